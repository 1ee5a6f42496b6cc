import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.LocalDateTime;
import java.util.Properties;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.postgresql.copy.CopyManager;

/**
 * Drives pgjdbc through the gateway. Connection settings come from the environment (GATEHOUSE_JDBC_URL,
 * GATEHOUSE_JDBC_USER, GATEHOUSE_JDBC_PASSWORD); each check prints one line that the jest test asserts on.
 * Any failure ends the program with a stack trace and exit code 1.
 */
public final class GatehouseJdbcSmoke {
  private GatehouseJdbcSmoke() {}

  private static Connection connect() throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", System.getenv("GATEHOUSE_JDBC_USER"));
    props.setProperty("password", System.getenv("GATEHOUSE_JDBC_PASSWORD"));
    props.setProperty("ApplicationName", "gatehouse-jdbc-test");
    return DriverManager.getConnection(System.getenv("GATEHOUSE_JDBC_URL"), props);
  }

  private static void check(boolean condition, String what) {
    if (!condition) throw new IllegalStateException("check failed: " + what);
  }

  public static void main(String[] args) throws Exception {
    try (Connection conn = connect(); Connection other = connect()) {
      preparedBinary(conn);
      batch(conn);
      cancel(conn);
      copy(conn);
      notifications(conn, other);
      transaction(conn);
      System.out.println("done");
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
  }

  /** prepareThreshold=1: server-side named statements from the first use; binaryTransfer: binary results. */
  static void preparedBinary(Connection conn) throws SQLException {
    String query = "SELECT ?::int4 + 1, ?::int8 * 2, ?::numeric, ?::text || '!', ?::bytea, ?::timestamp + interval '1 day'";
    Timestamp base = Timestamp.valueOf(LocalDateTime.of(2024, 2, 28, 12, 34, 56, 789_000_000));
    try (PreparedStatement ps = conn.prepareStatement(query)) {
      for (int i = 0; i < 5; i++) {
        ps.setInt(1, 41 + i);
        ps.setLong(2, 4_611_686_018_427_387_903L - i);
        ps.setBigDecimal(3, new BigDecimal("12345678901234567890.000000001"));
        ps.setString(4, "grüße " + i);
        ps.setBytes(5, new byte[] {0, 1, (byte) 0xfe, (byte) 0xff, (byte) i});
        ps.setTimestamp(6, base);
        try (ResultSet rs = ps.executeQuery()) {
          check(rs.next(), "a row");
          byte[] bytes = rs.getBytes(5);
          System.out.printf(
              "prepared %d int=%d bigint=%d numeric=%s text=%s bytea=%02x%02x%02x%02x%02x timestamp=%s%n",
              i, rs.getInt(1), rs.getLong(2), rs.getBigDecimal(3).toPlainString(), rs.getString(4),
              bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], rs.getTimestamp(6).toLocalDateTime());
        }
      }
    }
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'S\\_%'")) {
      rs.next();
      System.out.println("server prepared statements: " + (rs.getInt(1) > 0 ? "yes" : "no"));
    }
  }

  /** executeBatch sends every Bind/Execute before one Sync. */
  static void batch(Connection conn) throws SQLException {
    try (Statement st = conn.createStatement()) {
      st.execute("CREATE TEMP TABLE batch_target(id int PRIMARY KEY, label text)");
    }
    int total = 0;
    try (PreparedStatement ps = conn.prepareStatement("INSERT INTO batch_target VALUES (?, ?)")) {
      for (int i = 0; i < 1000; i++) {
        ps.setInt(1, i);
        ps.setString(2, "label " + i);
        ps.addBatch();
      }
      for (int count : ps.executeBatch()) total += count;
    }
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*), sum(id) FROM batch_target")) {
      rs.next();
      System.out.printf("batch updates=%d rows=%d sum=%d%n", total, rs.getInt(1), rs.getLong(2));
    }
  }

  /** setQueryTimeout makes the driver send a CancelRequest on a new connection, with the gateway's key. */
  static void cancel(Connection conn) throws SQLException {
    long started = System.nanoTime();
    String state = "none";
    try (Statement st = conn.createStatement()) {
      st.setQueryTimeout(1);
      st.execute("SELECT pg_sleep(5)");
    } catch (SQLException e) {
      state = e.getSQLState();
    }
    long elapsedMs = (System.nanoTime() - started) / 1_000_000;
    try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT 'usable'")) {
      rs.next();
      System.out.printf("cancel sqlstate=%s within4s=%s after=%s%n", state, elapsedMs < 4000, rs.getString(1));
    }
  }

  static void copy(Connection conn) throws Exception {
    CopyManager copy = conn.unwrap(PGConnection.class).getCopyAPI();
    try (Statement st = conn.createStatement()) {
      st.execute("CREATE TEMP TABLE copy_target(id int, name text, note text)");
    }
    StringBuilder csv = new StringBuilder();
    for (int i = 0; i < 3000; i++) csv.append(i).append(",\"name, ").append(i).append("\",").append(i % 3 == 0 ? "" : "n" + i).append('\n');
    long in = copy.copyIn("COPY copy_target FROM STDIN WITH (FORMAT csv)", new StringReader(csv.toString()));
    StringWriter out = new StringWriter();
    long outRows = copy.copyOut("COPY (SELECT * FROM copy_target ORDER BY id) TO STDOUT WITH (FORMAT csv)", out);
    System.out.printf("copy in=%d out=%d identical=%s%n", in, outRows, out.toString().equals(csv.toString()));
  }

  static void notifications(Connection listener, Connection notifier) throws SQLException {
    try (Statement st = listener.createStatement()) {
      st.execute("LISTEN gatehouse_jdbc");
    }
    try (Statement st = notifier.createStatement()) {
      st.execute("NOTIFY gatehouse_jdbc, 'first'");
      st.execute("SELECT pg_notify('gatehouse_jdbc', 'second')");
    }
    PGConnection pg = listener.unwrap(PGConnection.class);
    StringBuilder seen = new StringBuilder();
    long deadline = System.currentTimeMillis() + 5000;
    int count = 0;
    while (count < 2 && System.currentTimeMillis() < deadline) {
      PGNotification[] batch = pg.getNotifications(500);
      if (batch == null) continue;
      for (PGNotification n : batch) {
        seen.append(' ').append(n.getName()).append('=').append(n.getParameter());
        count++;
      }
    }
    System.out.println("notifications:" + seen);
  }

  /** An error inside a transaction aborts it; rollback makes the connection usable again. */
  static void transaction(Connection conn) throws SQLException {
    conn.setAutoCommit(false);
    String state = "none";
    try (Statement st = conn.createStatement()) {
      st.execute("INSERT INTO batch_target VALUES (5000, 'in transaction')");
      st.execute("SELECT 1/0");
    } catch (SQLException e) {
      state = e.getSQLState();
    }
    conn.rollback();
    conn.setAutoCommit(true);
    try (Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT count(*) FROM batch_target WHERE id = 5000")) {
      rs.next();
      System.out.printf("transaction error=%s kept=%d%n", state, rs.getInt(1));
    }
  }
}

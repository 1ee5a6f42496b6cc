import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.Properties;

/**
 * pgjdbc reading masked columns through the gateway: a server-prepared statement (prepareThreshold=1)
 * with binary transfer, executed several times after one description. Prints `id|ssn|card` per row;
 * the jest test compares. Settings come from GATEHOUSE_JDBC_URL, _USER and _PASSWORD.
 */
public final class GatehouseJdbcMasking {
  private GatehouseJdbcMasking() {}

  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", System.getenv("GATEHOUSE_JDBC_USER"));
    props.setProperty("password", System.getenv("GATEHOUSE_JDBC_PASSWORD"));
    try (Connection conn = DriverManager.getConnection(System.getenv("GATEHOUSE_JDBC_URL"), props);
        PreparedStatement ps = conn.prepareStatement("SELECT id, ssn, card FROM people WHERE id = ?")) {
      for (int round = 0; round < 3; round++) {
        for (int id = 1; id <= 2; id++) {
          ps.setInt(1, id);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) System.out.println(rs.getInt(1) + "|" + rs.getString(2) + "|" + rs.getString(3));
          }
        }
      }
    }
    System.out.println("done");
  }
}

import { loadDecideConfig } from '../../functions/approval-decide/config';
import { loadNotifyConfig } from '../../functions/approval-notify/config';

const notifyEnv = {
  TABLE_NAME: 'gatehouse-approvals',
  DECIDE_URL: 'https://abc.lambda-url.eu-west-1.on.aws',
  LINK_KEY_ID: 'alias/gatehouse-approval-links',
  SES_SENDER: 'gatehouse@example.com',
};

describe('the notify function’s configuration', () => {
  it('reads the environment into a frozen object with defaults', () => {
    const config = loadNotifyConfig({ ...notifyEnv, UNRELATED: 'x' });
    expect(config).toEqual({
      table: 'gatehouse-approvals',
      linkBase: 'https://abc.lambda-url.eu-west-1.on.aws',
      linkKeyId: 'alias/gatehouse-approval-links',
      slackSecretId: undefined,
      slackChannel: undefined,
      slackApiUrl: 'https://slack.com/api',
      emailFrom: 'gatehouse@example.com',
      logLevel: 'info',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each(['TABLE_NAME', 'DECIDE_URL', 'LINK_KEY_ID'])(
    'fails naming %s when it is missing or empty',
    (name) => {
      expect(() => loadNotifyConfig({ ...notifyEnv, [name]: undefined })).toThrow(name);
      expect(() => loadNotifyConfig({ ...notifyEnv, [name]: '' })).toThrow(name);
    },
  );

  it('refuses links over plain http, except on loopback', () => {
    expect(() => loadNotifyConfig({ ...notifyEnv, DECIDE_URL: 'http://approve.example.com' })).toThrow(
      /DECIDE_URL: expected an https URL/,
    );
    expect(loadNotifyConfig({ ...notifyEnv, DECIDE_URL: 'http://127.0.0.1:9000' }).linkBase).toBe(
      'http://127.0.0.1:9000',
    );
  });

  it('needs Slack or e-mail', () => {
    expect(() => loadNotifyConfig({ ...notifyEnv, SES_SENDER: undefined })).toThrow(/SLACK_SECRET_ARN/);
  });
});

describe('the decide function’s configuration', () => {
  const decideEnv = {
    TABLE_NAME: 'gatehouse-approvals',
    LINK_KEY_ID: 'alias/links',
  };

  it('defaults where Slack may reply to its own address', () => {
    expect(loadDecideConfig(decideEnv).slackResponseUrlPrefix).toBe('https://hooks.slack.com/');
  });

  it('fails naming a bad team id or log level', () => {
    expect(() => loadDecideConfig({ ...decideEnv, SLACK_TEAM_ID: 'acme' })).toThrow('SLACK_TEAM_ID');
    expect(() => loadDecideConfig({ ...decideEnv, LOG_LEVEL: 'loud' })).toThrow('LOG_LEVEL');
  });

  it('fails naming a missing table', () => {
    expect(() => loadDecideConfig({ LINK_KEY_ID: 'k' })).toThrow('TABLE_NAME');
  });
});

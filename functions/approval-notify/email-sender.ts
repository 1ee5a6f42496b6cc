import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import type { ApprovalEmail } from '../../core/approval/approval-email';

/** Sending one approver their own message (each carries a link bound to them). */
export interface EmailSender {
  send(to: string, email: ApprovalEmail): Promise<void>;
}

export class SesEmailSender implements EmailSender {
  constructor(
    private readonly from: string,
    private readonly client: SESv2Client = new SESv2Client({}),
  ) {}

  async send(to: string, email: ApprovalEmail): Promise<void> {
    await this.client.send(
      new SendEmailCommand({
        FromEmailAddress: this.from,
        Destination: { ToAddresses: [to] },
        Content: {
          Simple: {
            Subject: { Data: email.subject, Charset: 'UTF-8' },
            Body: {
              Html: { Data: email.html, Charset: 'UTF-8' },
              Text: { Data: email.text, Charset: 'UTF-8' },
            },
          },
        },
      }),
    );
  }
}

#!/usr/bin/env node
// Renders what an approver sees, for the README: the local approval page, the Slack Block Kit
// message and the e-mail the notify function sends, and the decide function's confirmation page.
// Everything is rendered locally in Chromium from the functions' own output (no Slack workspace or
// SES is reachable here); the Slack message goes through a small Block Kit-to-HTML rendering below,
// an approximation of Slack's look, labelled as such in the README.
// Usage: npm run build && node tools/approval-screenshots.js [docs/images]
'use strict';
const path = require('node:path');
const { mkdirSync } = require('node:fs');
const { chromium } = require('playwright-core');
const dist = path.join(__dirname, '..', 'dist');
const { slackApprovalMessage } = require(path.join(dist, 'core/approval/approval-slack.js'));
const { approvalEmail } = require(path.join(dist, 'core/approval/approval-email.js'));
const { confirmationPage } = require(path.join(dist, 'core/approval/approval-pages.js'));
const { approvalsPage } = require(path.join(dist, 'local/approvals-page/page.js'));

const out = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'docs', 'images'));
const now = Date.parse('2026-11-23T14:02:00Z') * 1000;
const request = {
  id: 'apr-5f1c9e02a7d34b61c08e2f1a',
  binding: 'c3f0'.repeat(16),
  requested: now,
  expires: now + 15 * 60 * 1e6,
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'repo:acme/billing:environment:production',
  database: 'billing',
  grant: 'migrations',
  rule: 'drops-need-a-dba',
  reason: 'dropping a table needs a DBA',
  text: 'DROP TABLE public.invoices_2019',
  approvers: ['alice', 'bob', 'carol'],
  contacts: {
    alice: { email: 'alice@acme.example', slack: 'U01ALICE' },
    bob: { slack: 'U02BOB' },
    carol: {},
  },
  needed: 1,
  coverage: { kind: 'once' },
  excluded: ['carol'],
};

const escapeHtml = (t) => t.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
/** Slack mrkdwn to HTML: code blocks, bold, links and mentions (what our messages use). */
function mrkdwn(text) {
  return escapeHtml(text)
    .replace(/```([\s\S]*?)```/g, (_, code) => `<pre>${code}</pre>`)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*([^*\n]+)\*/g, '<b>$1</b>')
    .replace(/&#60;@(\w+)&#62;/g, '<span class="mention">@$1</span>')
    .replace(/&#60;([^|&]+)\|([^&]+)&#62;/g, '<a>$2</a>')
    .replace(/\n/g, '<br>');
}
function text(t) {
  return t.type === 'mrkdwn' ? mrkdwn(t.text) : escapeHtml(t.text);
}
function block(b) {
  switch (b.type) {
    case 'header':
      return `<div class="header">${text(b.text)}</div>`;
    case 'section':
      return `<div class="section">${b.text ? `<div>${text(b.text)}</div>` : ''}${
        b.fields ? `<div class="fields">${b.fields.map((f) => `<div>${text(f)}</div>`).join('')}</div>` : ''
      }</div>`;
    case 'context':
      return `<div class="context">${b.elements.map(text).join(' ')}</div>`;
    case 'divider':
      return '<hr>';
    case 'actions':
      return `<div class="actions">${b.elements
        .map((e) => `<span class="button ${e.style}">${text(e.text)}</span>`)
        .join('')}</div>`;
    default:
      return '';
  }
}
function slackHtml(message) {
  return `<!doctype html><meta charset="utf-8"><style>
body{margin:0;padding:24px;background:#fff;font:15px/1.46668 Lato,'Helvetica Neue',Arial,sans-serif;color:#1d1c1d;width:720px}
.msg{display:flex;gap:10px}.avatar{width:36px;height:36px;border-radius:6px;background:#1f2937;color:#fff;display:flex;align-items:center;justify-content:center;font-weight:700}
.name{font-weight:900}.app{font-size:10px;background:#ddd;border-radius:2px;padding:1px 3px;margin-left:4px;color:#555}.time{color:#616061;font-size:12px;margin-left:6px}
.header{font-size:18px;font-weight:900;margin:6px 0}.section{margin:8px 0}.fields{display:grid;grid-template-columns:1fr 1fr;gap:8px 16px;margin-top:6px}
pre{background:#f8f8f8;border:1px solid #ddd;border-radius:4px;padding:8px;font:12px Monaco,Menlo,Consolas,monospace;white-space:pre-wrap;margin:4px 0}
code{color:#e01e5a;background:#f8f8f8;border:1px solid #ddd;border-radius:3px;padding:0 3px;font-size:12px}
.context{color:#616061;font-size:13px;margin:8px 0}.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 2px}a{color:#1264a3}
.actions{display:flex;gap:8px;margin:10px 0}.button{border:1px solid #bbb;border-radius:4px;padding:4px 14px;font-weight:700;font-size:14px}
.button.primary{background:#007a5a;color:#fff;border-color:#007a5a}.button.danger{color:#e01e5a;border-color:#e01e5a}
.label{margin-top:18px;color:#888;font-size:12px;border-top:1px dashed #ccc;padding-top:6px}
</style><div class="msg"><div class="avatar">G</div><div><span class="name">Gatehouse</span><span class="app">APP</span><span class="time">14:02</span>
${message.blocks.map(block).join('\n')}</div></div>
<div class="label">Local rendering of the Block Kit JSON the notify function posts (not a Slack screenshot).</div>`;
}

async function main() {
  mkdirSync(out, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  const link = {
    requestId: request.id,
    approver: 'alice',
    expires: Math.ceil(request.expires / 1e6),
    mac: 'x',
  };
  const linkUrl = `https://abc123.lambda-url.eu-west-1.on.aws/a/${request.id}?as=alice&e=${link.expires}&sig=…`;
  const shots = [
    ['approval-slack.png', slackHtml(slackApprovalMessage(request)), 800],
    ['approval-email.png', approvalEmail(request, 'alice', linkUrl).html, 760],
    [
      'approval-confirm.png',
      confirmationPage({ request, link, decisions: [], state: { state: 'pending' } }),
      900,
    ],
    [
      'approval-page.png',
      approvalsPage([{ request, state: { state: 'pending' }, decisions: [] }], 'token'),
      1000,
    ],
  ];
  for (const [file, html, width] of shots) {
    const page = await browser.newPage({ viewport: { width, height: 600 } });
    await page.setContent(html, { waitUntil: 'load' });
    await page.screenshot({ path: path.join(out, file), fullPage: true });
    await page.close();
    process.stdout.write(`${path.join(out, file)}\n`);
  }
  await browser.close();
}

main().catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});

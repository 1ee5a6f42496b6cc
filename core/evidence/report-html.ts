import { escapeHtml } from '../approval/approval-messages';
import type {
  ControlStatus,
  EffectiveScope,
  EvidenceSummary,
  IdentityActivity,
  IdentityRuleUsage,
} from './evidence-package';
import {
  type ChartSeries,
  count,
  dailyBarChart,
  dayAxis,
  formatCount,
  horizontalBarChart,
  LABEL_CHARACTERS,
  shorten,
} from './report-charts';

/**
 * The evidence package's report.html: one self-contained page an assessor reads, in a browser or on
 * A4 paper. Inline CSS and inline SVG only (no script, no external resource; a Content-Security-
 * Policy in the page says so), every value escaped: identity subjects, rule names, reasons and
 * verification details come from clients and policies, and may contain markup. The report is a
 * reading aid; the evidence is the package's files, which the control map links to relatively, so the
 * links work wherever the package directory is unpacked.
 *
 * The charts and the AC-2 table are drawn from the inventory (inventory.json), the rest from the
 * summary (summary.json) and the scopes (scopes.json), as the export writes them.
 */

export interface EvidenceReportInput {
  readonly summary: EvidenceSummary;
  readonly scopes: readonly EffectiveScope[];
  readonly inventory: {
    readonly identities: readonly IdentityActivity[];
    readonly identityRules: readonly IdentityRuleUsage[];
  };
}

export interface EvidenceReportOptions {
  /** How many identities the activity chart shows (the most active); the inventory lists them all. */
  readonly topIdentities?: number;
}

export const DEFAULT_TOP_IDENTITIES = 15;

const COLOURS = {
  statements: '#0969da',
  refusals: '#cf222e',
  approvals: '#8250df',
  authenticationFailures: '#bc4c00',
};

const STATUS_TEXT: Record<ControlStatus['status'], string> = {
  satisfied: 'satisfied',
  'satisfied-with-findings': 'satisfied with findings',
  'not-satisfied': 'not satisfied',
};
const STATUS_MARK: Record<ControlStatus['status'], string> = {
  satisfied: '&#10003;',
  'satisfied-with-findings': '!',
  'not-satisfied': '&#10005;',
};

const STYLE = `
*{box-sizing:border-box}
html{-webkit-print-color-adjust:exact;print-color-adjust:exact}
body{margin:0;padding:32px 16px;background:#f3f4f6;color:#1f2328;font:14px/1.5 -apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}
main{max-width:1040px;margin:0 auto;background:#fff;border:1px solid #d0d7de;border-radius:12px;overflow:hidden;box-shadow:0 1px 3px rgba(31,35,40,.08)}
header.top{display:flex;align-items:center;justify-content:space-between;gap:12px;padding:16px 28px;background:#1f2937;color:#f9fafb}
header.top strong{font-size:16px;letter-spacing:.2px}
nav{display:flex;flex-wrap:wrap;gap:4px 16px;padding:10px 28px;border-bottom:1px solid #d0d7de;background:#f6f8fa;font-size:13px}
nav a{color:#0969da;text-decoration:none}
section{padding:22px 28px;border-bottom:1px solid #eaeef2}
section:last-of-type{border-bottom:0}
h1{margin:0 0 4px;font-size:24px}
h2{margin:0 0 12px;font-size:18px}
h3{margin:18px 0 8px;font-size:15px}
.lead{margin:0 0 16px;color:#57606a}
.muted{color:#57606a}
.small{font-size:12px}
code,.mono{font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,'Liberation Mono',monospace;overflow-wrap:anywhere}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:6px 18px;margin:0 0 16px}
dl.facts dt{color:#57606a}dl.facts dd{margin:0;min-width:0}
ul.plain{margin:0;padding:0;list-style:none}
.note{margin:0;padding:12px 16px;border-radius:8px;background:#ddf4ff;border:1px solid #54aeff;font-size:13px}
.problem{margin:0 0 14px;padding:12px 16px;border-radius:8px;background:#ffebe9;border:1px solid #ff8182}
.ok{margin:0 0 14px;padding:12px 16px;border-radius:8px;background:#dafbe1;border:1px solid #4ac26b}
.warn{margin:0 0 14px;padding:12px 16px;border-radius:8px;background:#fff8c5;border:1px solid #d4a72c}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap;background:#6e7781;color:#fff}
.badge.satisfied{background:#1a7f37}.badge.deny{background:#cf222e}.badge.approve{background:#8250df}.badge.satisfied-with-findings{background:#9a6700}.badge.not-satisfied{background:#cf222e}
.flag{display:inline-block;padding:1px 8px;border-radius:999px;font-size:11px;font-weight:600;white-space:nowrap;background:#fff8c5;color:#7d4e00;border:1px solid #d4a72c}
.glance{display:grid;grid-template-columns:repeat(auto-fit,minmax(128px,1fr));gap:10px}
.tile{padding:12px 14px;border:1px solid #d0d7de;border-radius:10px;background:#f6f8fa;min-width:0}
.tile .value{display:block;font-size:24px;font-weight:700;line-height:1.2}
.tile .name{display:block;color:#57606a;font-size:12px}
.tile .detail{display:block;color:#57606a;font-size:11px;margin-top:4px}
.boundaries{margin:10px 0 0}
.tile.attention{background:#fff8c5;border-color:#d4a72c}
.table{overflow-x:auto}
table{width:100%;border-collapse:collapse;font-size:13px}
th,td{padding:7px 8px;border-bottom:1px solid #d8dee4;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600;font-size:12px;color:#424a53}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.time{white-space:nowrap;font-variant-numeric:tabular-nums;font-size:12px}
tr.flagged td{background:#fffbe6}
td a{color:#0969da}
td.who{overflow-wrap:anywhere}
.evidence li{white-space:nowrap}
.evidence .selection{display:block;white-space:normal;font-size:11px;color:#57606a;margin-bottom:4px}
table.controls th.id{width:6%}table.controls th.title{width:17%}table.controls th.status{width:1%}table.controls th.files{width:1%}
.chart{display:block;width:100%;height:auto;max-width:900px;margin:4px 0 6px}
figure{margin:0 0 20px}
figcaption{font-size:12px;color:#57606a}
.empty{padding:14px 16px;border:1px dashed #d0d7de;border-radius:8px;color:#57606a;margin:0 0 16px}
.scopes{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:14px}
.scope{border:1px solid #d0d7de;border-radius:10px;padding:14px 16px;min-width:0}
.scope h3{margin:0 0 8px;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.scope dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0;font-size:13px}
.scope dt{color:#57606a}.scope dd{margin:0;min-width:0}
.scope ul{margin:0;padding-left:16px}
footer{padding:14px 28px;background:#f6f8fa;border-top:1px solid #d0d7de;font-size:12px;color:#57606a}
@page{size:A4;margin:12mm 11mm}
@media print{
body{background:#fff;padding:0;font-size:10pt}
main{max-width:none;border:0;border-radius:0;box-shadow:none;overflow:visible}
nav{display:none}
header.top{padding:10px 0;background:#fff;color:#1f2328;border-bottom:2px solid #1f2937}
section{padding:12px 0}
footer{padding:8px 0;background:#fff}
h2{break-after:avoid}
.tile,figure,.scope,tr,.note,.problem,.ok,.warn{break-inside:avoid}
.table{overflow:visible}
table{font-size:8.5pt}
th,td{padding:4px 5px}
th.n{white-space:normal}
code,.mono,td.time{font-size:7.5pt}
.badge{font-size:7.5pt;padding:1px 6px}
.evidence li{white-space:normal}
table.controls th.files{width:21%}
td a{color:#1f2328;text-decoration:none}
.glance{grid-template-columns:repeat(4,1fr)}
.scopes{grid-template-columns:1fr 1fr}
}
`;

const e = (text: string | undefined | null): string => escapeHtml(String(text ?? ''));

/** A time in microseconds as `2026-11-02 14:03 UTC`, or a dash when it is none. */
export function formatMicros(micros: number, zone = true): string {
  const ms = Math.floor(micros / 1000);
  if (!Number.isFinite(ms) || ms <= 0 || ms > 8.64e15) return '—';
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}${zone ? ' UTC' : ''}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${count(n) === 1 ? one : many}`;
}

function list(values: readonly string[], empty = 'none'): string {
  return values.length === 0 ? `<span class="muted">${empty}</span>` : values.map(e).join(', ');
}

function codeList(values: readonly string[], empty = 'none'): string {
  return values.length === 0
    ? `<span class="muted">${empty}</span>`
    : values.map((v) => `<code>${e(v)}</code>`).join(', ');
}

/**
 * A package path is linked only when it is a plain relative path (what the manifest lists): segments
 * of letters, digits, `.`, `_` and `-`, none of them `.` or `..`. Anything else is shown, not linked,
 * so a link can never leave the package or carry a scheme.
 */
export function packageHref(file: string): string | undefined {
  const segments = file.split('/');
  const plain = segments.every((s) => /^[A-Za-z0-9._-]+$/.test(s) && s !== '.' && s !== '..');
  return plain ? file : undefined;
}

function fileLink(file: string): string {
  const href = packageHref(file);
  return href
    ? `<a class="evidence-file" href="${e(href)}"><code>${e(file)}</code></a>`
    : `<code>${e(file)}</code>`;
}

/** A control's evidence files, each with the records of it that are the evidence when the builder names them. */
function evidenceLinks(control: ControlStatus): string {
  const records = control.records ?? [];
  const files = [
    ...control.evidence,
    ...records.map((r) => r.file).filter((f) => !control.evidence.includes(f)),
  ];
  if (files.length === 0) return '<span class="muted">none</span>';
  return `<ul class="plain evidence">${[...new Set(files)]
    .map((file) => {
      const selections = records
        .filter((r) => r.file === file)
        .map((r) => `<span class="selection">${e(r.select)}: ${plural(r.count, 'record')}</span>`)
        .join('');
      return `<li>${fileLink(file)}${selections}</li>`;
    })
    .join('')}</ul>`;
}

function overall(controls: readonly ControlStatus[]): { tone: ControlStatus['status']; text: string } {
  const failing = controls.filter((c) => c.status === 'not-satisfied').length;
  const findings = controls.filter((c) => c.status === 'satisfied-with-findings').length;
  if (failing > 0) return { tone: 'not-satisfied', text: `${plural(failing, 'control')} not satisfied` };
  if (findings > 0)
    return { tone: 'satisfied-with-findings', text: `${plural(findings, 'control')} with findings` };
  if (controls.length === 0) return { tone: 'satisfied-with-findings', text: 'no controls assessed' };
  return { tone: 'satisfied', text: 'all controls satisfied' };
}

/** The policy the inventory and scopes come from, when the builder names it, and whether the records agree. */
function renderedPolicy(summary: EvidenceSummary): string {
  const policy = summary.policy;
  if (!policy) return '';
  const differs =
    policy.inForceAtEnd !== undefined && policy.inForceAtEnd !== policy.digest
      ? `<br><span class="flag">differs from the policy in force at the end</span> <span class="small">the records show <code>${e(policy.inForceAtEnd)}</code></span>`
      : '';
  return `<dt>Inventory and scopes from</dt><dd><code>${e(policy.digest)}</code> (${fileLink('policy.yaml')})${differs}</dd>`;
}

function header(summary: EvidenceSummary): string {
  const { period } = summary;
  const controls = summary.controls;
  const tally = (status: ControlStatus['status']) => controls.filter((c) => c.status === status).length;
  const digests =
    summary.policyDigests.length === 0
      ? '<span class="muted">none recorded in the period</span>'
      : `<ul class="plain">${summary.policyDigests.map((d) => `<li><code>${e(d)}</code></li>`).join('')}</ul>`;
  return `<section id="overview">
<h1>NIST SP 800-53 evidence report</h1>
<p class="lead">What the gateway recorded from ${e(period.from)} to ${e(period.to)}, and the controls it supports.</p>
<dl class="facts">
<dt>Period</dt><dd><span class="mono">${e(period.from)}</span> to <span class="mono">${e(period.to)}</span> <span class="muted small">(${e(formatMicros(period.fromMicros))} to ${e(formatMicros(period.toMicros))})</span></dd>
<dt>Generated</dt><dd><span class="mono">${e(summary.generatedAt)}</span></dd>
<dt>Policies in force</dt><dd>${digests}</dd>
${renderedPolicy(summary)}<dt>Controls</dt><dd>${formatCount(tally('satisfied'))} satisfied, ${formatCount(tally('satisfied-with-findings'))} satisfied with findings, ${formatCount(tally('not-satisfied'))} not satisfied</dd>
<dt>Package</dt><dd>evidence package version ${e(String(summary.version))}</dd>
</dl>
<p class="note integrity"><strong>Package integrity.</strong> This page is a reading aid rendered from <code>summary.json</code>, <code>inventory.json</code> and <code>scopes.json</code>; the evidence is the package’s files. Before relying on it, verify with <code>gatehouse export --check</code> (the manifest’s signature, made with the audit trail’s key, and every file’s SHA-256).</p>
</section>`;
}

function tile(name: string, value: number, detail = '', attention = false): string {
  return `<div class="tile${attention ? ' attention' : ''}"><span class="value">${formatCount(value)}</span><span class="name">${e(name)}</span>${detail ? `<span class="detail">${detail}</span>` : ''}</div>`;
}

function glance(summary: EvidenceSummary): string {
  const c = summary.counts;
  const a = c.approvals;
  const decided = count(a.approved) + count(a.denied) + count(a.timedOut) + count(a.cancelled);
  const pending = count(a.requested) - decided;
  const outcomes = [
    `${formatCount(a.approved)} approved`,
    `${formatCount(a.denied)} denied`,
    `${formatCount(a.timedOut)} timed out`,
    `${formatCount(a.cancelled)} cancelled`,
    ...(pending > 0 ? [`${formatCount(pending)} undecided`] : []),
  ].join(' · ');
  const empty =
    count(c.sessions) + count(c.statements) + count(c.authenticationFailures) + count(c.policyChanges) === 0
      ? '<p class="empty">No records in this period: nobody connected, nothing ran and the policy did not change.</p>'
      : '';
  const b = summary.boundaries;
  const edges = b
    ? [
        count(b.sessionsStartedBefore) > 0
          ? `${plural(b.sessionsStartedBefore, 'session')} started before it (counted with what ${count(b.sessionsStartedBefore) === 1 ? 'it' : 'they'} did in it)`
          : '',
        count(b.sessionsOpenAtEnd) > 0
          ? `${plural(b.sessionsOpenAtEnd, 'session')} still open at its end`
          : '',
        count(b.unattributedRecords) > 0
          ? `${plural(b.unattributedRecords, 'record')} whose session start is not in the store`
          : '',
      ].filter(Boolean)
    : [];
  const boundaries =
    edges.length > 0
      ? `<p class="muted small boundaries">At the period’s edges: ${edges.join('; ')}.</p>`
      : '';
  return `<section id="glance">
<h2>At a glance</h2>${empty}
<div class="glance">
${tile('sessions', c.sessions)}
${tile('statements', c.statements)}
${tile('refusals', c.refusals, '', count(c.refusals) > 0)}
${tile('approvals requested', a.requested, outcomes)}
${tile('masked statements', c.maskedStatements)}
${tile('authentication failures', c.authenticationFailures, '', count(c.authenticationFailures) > 0)}
${tile('policy changes', c.policyChanges)}
</div>${boundaries}
</section>`;
}

function controlMap(controls: readonly ControlStatus[]): string {
  const rows = controls
    .map(
      (c) => `<tr class="control" data-control="${e(c.control)}">
<td><strong>${e(c.control)}</strong></td><td>${e(c.title)}</td>
<td><span class="badge ${e(c.status)}">${STATUS_MARK[c.status] ?? ''} ${e(STATUS_TEXT[c.status] ?? c.status)}</span></td>
<td>${e(c.reason)}</td><td>${evidenceLinks(c)}</td></tr>`,
    )
    .join('\n');
  const body =
    controls.length === 0
      ? '<p class="empty">The package assesses no controls.</p>'
      : `<div class="table"><table class="controls"><thead><tr><th class="id">Control</th><th class="title">Title</th><th class="status">Status</th><th>Reason</th><th class="files">Evidence</th></tr></thead><tbody>
${rows}
</tbody></table></div>`;
  return `<section id="controls">
<h2>Control map</h2>
<p class="lead">Each control’s status is computed from the records; its evidence is the package files linked beside it (relative to this report).</p>
${body}
</section>`;
}

function verification(summary: EvidenceSummary): string {
  const v = summary.verification;
  const checked = `${plural(v.records, 'record')} in ${plural(v.sessions, 'session')} and ${plural(v.chunks, 'chunk')}, against ${plural(v.digests, 'signed digest')} from ${plural(v.writers, 'writer')}`;
  const problems = v.problems
    .map(
      (p) =>
        `<tr class="verification-problem"><td><code>${e(p.writer)}</code></td><td>${e(p.kind)}</td><td>${p.session ? `<code>${e(p.session)}</code>` : '<span class="muted">—</span>'}</td><td>${e(p.detail)}</td></tr>`,
    )
    .join('\n');
  const verdict = v.ok
    ? `<p class="ok"><strong>Verified.</strong> Checked ${checked}: every record is accounted for by a signed digest and no record was altered, removed or added.</p>`
    : `<p class="problem"><strong>Verification failed: ${plural(v.problems.length, 'problem')}.</strong> Checked ${checked}. Until each problem below is explained, the trail cannot be relied on as complete and unaltered for this period.</p>`;
  const table =
    v.problems.length === 0
      ? ''
      : `<div class="table"><table><thead><tr><th>Writer</th><th>Problem</th><th>Session</th><th>Detail</th></tr></thead><tbody>
${problems}
</tbody></table></div>`;
  return `<section id="verification">
<h2>Integrity verification <span class="muted small">AU-9, AU-10</span></h2>
${verdict}
${table}
</section>`;
}

function identityName(identity: IdentityActivity): string {
  return `${identity.subject} (${identity.issuer})`;
}

function activityCharts(
  summary: EvidenceSummary,
  identities: readonly IdentityActivity[],
  top: number,
): string {
  const active = identities
    .filter((i) => count(i.statements) + count(i.refusals) > 0)
    .sort(
      (a, b) =>
        count(b.statements) + count(b.refusals) - (count(a.statements) + count(a.refusals)) ||
        count(b.refusals) - count(a.refusals) ||
        a.subject.localeCompare(b.subject),
    );
  const shown = active.slice(0, Math.max(1, Math.floor(top)));
  const identitySeries: ChartSeries[] = [
    { key: 'statements', label: 'Statements', colour: COLOURS.statements },
    { key: 'refusals', label: 'Refusals', colour: COLOURS.refusals },
  ];
  const perIdentity =
    shown.length === 0
      ? '<p class="empty">No identity ran a statement in this period.</p>'
      : `<figure>${horizontalBarChart(
          'chart-identities',
          'Statements and refusals per identity',
          identitySeries,
          shown.map((i) => ({
            label: shorten(i.subject, LABEL_CHARACTERS),
            title: identityName(i),
            values: [i.statements, i.refusals],
          })),
        )}<figcaption>${
          active.length > shown.length
            ? `The ${formatCount(shown.length)} most active of ${formatCount(active.length)} identities, by statements and refusals; the inventory below lists them all.`
            : `Every identity that ran a statement (${formatCount(active.length)}), most active first.`
        }</figcaption></figure>`;

  const timeline = new Map(summary.timeline.map((d) => [d.day, d]));
  const days = dayAxis(
    summary.period.fromMicros,
    summary.period.toMicros,
    summary.timeline.map((d) => d.day),
  );
  const values = (pick: (d: EvidenceSummary['timeline'][number]) => number): number[] =>
    days.map((day) => {
      const entry = timeline.get(day);
      return entry ? count(pick(entry)) : 0;
    });
  const refusals = values((d) => d.refusals);
  const approvals = values((d) => d.approvals);
  const failures = values((d) => d.authenticationFailures);
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  const daysNote = `${plural(days.length, 'day')}, UTC`;
  const overTime =
    sum(refusals) + sum(approvals) === 0
      ? '<p class="empty">No refusals and no approval requests in this period.</p>'
      : `<figure>${dailyBarChart('chart-decisions', 'Refusals and approval requests per day', days, [
          { key: 'refusals', label: 'Refusals', colour: COLOURS.refusals, values: refusals },
          { key: 'approvals', label: 'Approval requests', colour: COLOURS.approvals, values: approvals },
        ])}<figcaption>Refusals and approval requests per day (${daysNote}).</figcaption></figure>`;
  const authentication =
    sum(failures) === 0
      ? '<p class="empty">No authentication failures in this period.</p>'
      : `<figure>${dailyBarChart('chart-authentication', 'Authentication failures per day', days, [
          {
            key: 'authentication-failures',
            label: 'Authentication failures',
            colour: COLOURS.authenticationFailures,
            values: failures,
          },
        ])}<figcaption>Sessions refused at authentication per day (${daysNote}); each is in <code>authentication-failures.jsonl</code>.</figcaption></figure>`;
  return `<section id="activity">
<h2>Activity</h2>
<h3>Statements and refusals per identity</h3>
${perIdentity}
<h3>Refusals and approvals over time</h3>
${overTime}
<h3>Authentication failures over time</h3>
${authentication}
</section>`;
}

function claims(rule: IdentityRuleUsage): string {
  const entries = Object.entries(rule.claims);
  if (entries.length === 0) return '<span class="muted">any</span>';
  return entries
    .map(([name, accepted]) => `<code>${e(name)}</code>: ${codeList(accepted, 'any')}`)
    .join('<br>');
}

function inventorySection(inventory: EvidenceReportInput['inventory']): string {
  const identities = [...inventory.identities].sort(
    (a, b) => a.issuer.localeCompare(b.issuer) || a.subject.localeCompare(b.subject),
  );
  const gone = identities.filter((i) => !i.admittedNow);
  const unused = inventory.identityRules.filter((r) => r.unused);
  const rows = identities
    .map(
      (i) => `<tr class="identity${i.admittedNow ? '' : ' flagged'}">
<td class="who"><strong class="mono">${e(i.subject)}</strong>${i.admittedNow ? '' : ' <span class="flag">no longer admitted</span>'}<br><span class="muted small">${e(i.issuer)}</span><br><span class="small">rules: ${list(i.identityRules)}; grants: ${list(i.grants)}</span></td>
<td class="time">${e(formatMicros(i.firstSeen, false))}<br>${e(formatMicros(i.lastSeen, false))}</td>
<td class="n">${formatCount(i.sessions)}</td><td class="n">${formatCount(i.statements)}</td><td class="n">${formatCount(i.refusals)}</td>
<td class="n">${formatCount(i.approvalsRequested)}</td><td class="n">${formatCount(i.maskedStatements)}</td><td class="n">${formatCount(i.authenticationFailures)}</td></tr>`,
    )
    .join('\n');
  const identityTable =
    identities.length === 0
      ? '<p class="empty">No identity was seen in this period.</p>'
      : `${
          gone.length > 0
            ? `<p class="warn">${plural(gone.length, 'identity', 'identities')} seen in the period ${gone.length === 1 ? 'is' : 'are'} no longer admitted by the policy in force at its end: review whether ${gone.length === 1 ? 'its' : 'their'} access was meant to end.</p>`
            : ''
        }<div class="table"><table><thead><tr><th>Identity</th><th>First / last seen (UTC)</th><th class="n">Sessions</th><th class="n">Statements</th><th class="n">Refusals</th><th class="n">Approvals</th><th class="n">Masked</th><th class="n">Auth. failures</th></tr></thead><tbody>
${rows}
</tbody></table></div>`;
  const ruleRows = inventory.identityRules
    .map(
      (
        r,
      ) => `<tr class="identity-rule${r.unused ? ' flagged' : ''}"><td><strong>${e(r.name)}</strong></td><td class="mono">${e(r.issuer)}</td><td class="small">${claims(r)}</td><td>${list(r.grants)}</td><td class="n">${formatCount(r.identitiesSeen)}</td>
<td>${r.unused ? '<span class="flag">admitted nobody</span>' : ''}</td></tr>`,
    )
    .join('\n');
  const ruleTable =
    inventory.identityRules.length === 0
      ? '<p class="empty">The policy has no identity rules.</p>'
      : `${
          unused.length > 0
            ? `<p class="warn">${plural(unused.length, 'identity rule')} admitted nobody in the period: ${unused.map((r) => `<strong>${e(r.name)}</strong>`).join(', ')}. Review whether ${unused.length === 1 ? 'it is' : 'they are'} still needed.</p>`
            : ''
        }<div class="table"><table><thead><tr><th>Rule</th><th>Issuer</th><th>Claims</th><th>Grants</th><th class="n">Identities seen</th><th></th></tr></thead><tbody>
${ruleRows}
</tbody></table></div>`;
  return `<section id="inventory">
<h2>Identity inventory <span class="muted small">AC-2</span></h2>
<p class="lead">Every identity seen in the period (by issuer and subject) and what it did; and every identity rule of the policy with whom it admitted.</p>
<h3>Identities seen</h3>
${identityTable}
<h3>Identity rules</h3>
${ruleTable}
</section>`;
}

function limitValue(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}

function scopeRule(rule: EffectiveScope['rules'][number]): string {
  const reason = rule.reason ? `: ${e(rule.reason)}` : '';
  const approval = rule.approval
    ? ` <span class="muted small">(${formatCount(rule.approval.needed)} of ${list(rule.approval.approvers)}; times out after ${formatCount(rule.approval.timeoutSeconds)} s; covers ${e(rule.approval.covers)})</span>`
    : '';
  const when = rule.when ? Object.entries(rule.when) : [];
  const conditions =
    when.length > 0
      ? `<br><span class="small">when ${when.map(([k, v]) => `<code>${e(k)}</code> ${e(limitValue(v))}`).join('; ')}</span>`
      : '';
  return `<li><strong>${e(rule.name)}</strong> <span class="badge ${rule.decision === 'deny' ? 'deny' : 'approve'}">${e(rule.decision)}</span>${reason}${approval}${conditions}</li>`;
}

function scopesSection(scopes: readonly EffectiveScope[]): string {
  const cards = scopes
    .map((s) => {
      const limits = Object.entries(s.limits);
      return `<article class="scope">
<h3>${e(s.grant)} ${s.readOnly ? '<span class="flag">read-only</span>' : ''}</h3>
<dl>
<dt>Admitted by</dt><dd>${list(s.identityRules)}</dd>
<dt>Databases</dt><dd>${codeList(s.databases)}</dd>
${s.role ? `<dt>Role</dt><dd><code>${e(s.role)}</code></dd>` : ''}
<dt>Statements</dt><dd>${list(s.allow)}</dd>
<dt>Reads</dt><dd>${codeList(s.reads)}</dd>
<dt>Writes</dt><dd>${codeList(s.writes)}</dd>
<dt>Denied</dt><dd>${codeList(s.denied)}</dd>
<dt>Functions</dt><dd>${codeList(s.functions)}</dd>
<dt>Masked</dt><dd>${codeList(s.maskedColumns)}</dd>
${s.searchPath === undefined ? '' : `<dt>Search path</dt><dd>${s.searchPath === 'any' ? '<span class="muted">any (left to the client)</span>' : codeList(s.searchPath)}</dd>`}
${s.audit ? `<dt>Audit</dt><dd>statements: ${list(s.audit.statements)}; ${s.audit.record ? 'sessions recorded' : 'sessions not recorded'}; strict: ${list(s.audit.strict)}</dd>` : ''}
<dt>Rules</dt><dd>${s.rules.length === 0 ? '<span class="muted">none</span>' : `<ul>${s.rules.map(scopeRule).join('')}</ul>`}</dd>
<dt>Limits</dt><dd>${limits.length === 0 ? '<span class="muted">defaults</span>' : limits.map(([k, v]) => `<code>${e(k)}</code> ${e(limitValue(v))}`).join('<br>')}</dd>
</dl></article>`;
    })
    .join('\n');
  return `<section id="scopes">
<h2>Effective scopes per grant <span class="muted small">AC-6</span></h2>
<p class="lead">What each grant of the policy in force at the end of the period lets its identities do.</p>
${scopes.length === 0 ? '<p class="empty">The policy states no grants.</p>' : `<div class="scopes">${cards}</div>`}
</section>`;
}

export function evidenceReport(input: EvidenceReportInput, options: EvidenceReportOptions = {}): string {
  const { summary, scopes, inventory } = input;
  const status = overall(summary.controls);
  const top = options.topIdentities ?? DEFAULT_TOP_IDENTITIES;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>Evidence report ${e(summary.period.from)} to ${e(summary.period.to)} · Gatehouse</title><style>${STYLE}</style></head>
<body><main>
<header class="top"><strong>Gatehouse &middot; evidence report</strong><span class="badge ${status.tone}">${e(status.text)}</span></header>
<nav><a href="#glance">At a glance</a><a href="#controls">Controls</a><a href="#verification">Verification</a><a href="#activity">Activity</a><a href="#inventory">Identities</a><a href="#scopes">Scopes</a></nav>
${header(summary)}
${glance(summary)}
${controlMap(summary.controls)}
${verification(summary)}
${activityCharts(summary, inventory.identities, top)}
${inventorySection(inventory)}
${scopesSection(scopes)}
<footer>Generated by Gatehouse at ${e(summary.generatedAt)} for ${e(summary.period.from)} to ${e(summary.period.to)}. Times are UTC. Verify the package with <code>gatehouse export --check</code>.</footer>
</main></body></html>
`;
}

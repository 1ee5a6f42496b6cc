import { escapeHtml } from '../approval/approval-messages';

/**
 * The evidence report's charts: inline SVG, drawn here from the numbers (no chart library, no
 * script), so the report stays one self-contained file that prints as it shows. Every text placed
 * in a chart (identity subjects, days) is escaped; every number is clamped to a finite count.
 * Each bar carries a `<title>` with its exact value, and `class="bar SERIES"` so tests can count them.
 */

/** A series of a chart: its key (the bars' class), its legend label and its colour. */
export interface ChartSeries {
  readonly key: string;
  readonly label: string;
  readonly colour: string;
}

/** One row of the horizontal chart: a label (shortened to fit), the full name, a value per series. */
export interface ChartRow {
  readonly label: string;
  readonly title: string;
  readonly values: readonly number[];
}

const WIDTH = 760;
const FONT = 12;
const SMALL = 10;
/** Widest label of a horizontal chart's rows, in characters (a 12px sans-serif fits this in ~240 units). */
export const LABEL_CHARACTERS = 36;
const MS_PER_DAY = 86_400_000;
/** Widest bar of a daily chart, so a short period does not draw slabs. */
const MAX_BAR_WIDTH = 24;
/** A day axis longer than this shows only the days that have records. */
export const MAX_AXIS_DAYS = 400;

export function count(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** `12,345`: the same for every reader, whatever the locale of the machine that renders it. */
export function formatCount(value: number): string {
  return String(count(value)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A text shortened in the middle to `max` characters (code points, so no surrogate is split). */
export function shorten(text: string, max: number): string {
  const characters = Array.from(text);
  if (characters.length <= max) return text;
  const head = Math.ceil((max - 1) * 0.45);
  const tail = max - 1 - head;
  return `${characters.slice(0, head).join('')}…${characters.slice(characters.length - tail).join('')}`;
}

/** An axis from 0 to a round number at or above `max`, in about four integer steps of 1, 2 or 5 × 10^n. */
export function niceScale(max: number): { step: number; top: number } {
  if (!(max > 0)) return { step: 1, top: 1 };
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normal = raw / magnitude;
  const factor = normal <= 1 ? 1 : normal <= 2 ? 2 : normal <= 5 ? 5 : 10;
  const step = Math.max(1, Math.round(factor * magnitude));
  return { step, top: Math.ceil(max / step) * step };
}

const round = (n: number): string => String(Math.round(n * 10) / 10);

function legend(series: readonly ChartSeries[], y: number, x0: number): string {
  let x = x0;
  return series
    .map((s) => {
      const item = `<rect x="${round(x)}" y="${y - 9}" width="10" height="10" rx="2" fill="${s.colour}"/><text x="${round(x + 14)}" y="${y}" font-size="${FONT}" fill="#1f2328">${escapeHtml(s.label)}</text>`;
      x += 14 + s.label.length * 6.8 + 18;
      return item;
    })
    .join('');
}

function svg(id: string, title: string, height: number, body: string): string {
  return `<svg class="chart" id="${escapeHtml(id)}" role="img" aria-labelledby="${escapeHtml(id)}-title" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg"><title id="${escapeHtml(id)}-title">${escapeHtml(title)}</title>${body}</svg>`;
}

/**
 * Horizontal bars: one row per item, one bar per series in each row (a bar of width 0 for a zero,
 * so every row has every bar), the value written after each bar, a shared axis below.
 */
export function horizontalBarChart(
  id: string,
  title: string,
  series: readonly ChartSeries[],
  rows: readonly ChartRow[],
): string {
  const labelRight = 250;
  const plotLeft = 258;
  const plotRight = WIDTH - 64;
  const plotWidth = plotRight - plotLeft;
  const top = 30;
  const barHeight = 10;
  const barGap = 2;
  const rowHeight = Math.max(24, series.length * (barHeight + barGap) + 8);
  const plotBottom = top + rows.length * rowHeight;
  const height = plotBottom + 26;
  const max = Math.max(0, ...rows.flatMap((r) => r.values.map(count)));
  const { step, top: axisTop } = niceScale(max);
  const x = (value: number): number => (count(value) / axisTop) * plotWidth;

  const grid: string[] = [];
  for (let tick = 0; tick <= axisTop; tick += step) {
    const tx = plotLeft + (tick / axisTop) * plotWidth;
    grid.push(
      `<line x1="${round(tx)}" y1="${top - 4}" x2="${round(tx)}" y2="${plotBottom}" stroke="${tick === 0 ? '#8c959f' : '#d8dee4'}" stroke-width="1"/>`,
      `<text x="${round(tx)}" y="${plotBottom + 16}" font-size="${SMALL}" fill="#57606a" text-anchor="middle">${formatCount(tick)}</text>`,
    );
  }
  const body = rows.map((row, index) => {
    const y = top + index * rowHeight;
    const barsHeight = series.length * (barHeight + barGap) - barGap;
    const barsTop = y + (rowHeight - barsHeight) / 2;
    const label = `<text class="label" x="${labelRight}" y="${round(y + rowHeight / 2 + 4)}" font-size="${FONT}" fill="#1f2328" text-anchor="end"><title>${escapeHtml(row.title)}</title>${escapeHtml(row.label)}</text>`;
    const bars = series.map((s, i) => {
      const value = count(row.values[i] ?? 0);
      const width = value > 0 ? Math.max(1, x(value)) : 0;
      const by = barsTop + i * (barHeight + barGap);
      return `<rect class="bar ${escapeHtml(s.key)}" x="${plotLeft}" y="${round(by)}" width="${round(width)}" height="${barHeight}" fill="${s.colour}"><title>${escapeHtml(`${row.title}: ${formatCount(value)} ${s.label.toLowerCase()}`)}</title></rect><text x="${round(plotLeft + width + 4)}" y="${round(by + barHeight - 1)}" font-size="${SMALL}" fill="#57606a">${formatCount(value)}</text>`;
    });
    return `<g class="row">${label}${bars.join('')}</g>`;
  });
  return svg(id, title, height, `${legend(series, 16, plotLeft)}${grid.join('')}${body.join('')}`);
}

/** The UTC day (`2026-11-02`) of a time in microseconds, or undefined if it is no time. */
export function utcDay(micros: number): string | undefined {
  const ms = Math.floor(micros / 1000);
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return undefined;
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * The days a time chart shows: every UTC day of the period (`to` exclusive), so a quiet day shows as
 * a gap rather than disappearing, plus any day of the timeline outside it. A period longer than
 * MAX_AXIS_DAYS, or one that is no valid range, shows only the timeline's days.
 */
export function dayAxis(fromMicros: number, toMicros: number, timelineDays: readonly string[]): string[] {
  const days = new Set(timelineDays);
  const first = utcDay(fromMicros);
  const last = utcDay(Math.max(fromMicros, toMicros - 1));
  if (first && last) {
    const start = Date.parse(`${first}T00:00:00Z`);
    const end = Date.parse(`${last}T00:00:00Z`);
    if ((end - start) / MS_PER_DAY < MAX_AXIS_DAYS)
      for (let t = start; t <= end; t += MS_PER_DAY) days.add(new Date(t).toISOString().slice(0, 10));
  }
  return [...days].sort();
}

/** `11-02` for `2026-11-02` (the year is in the report's period); anything else shortened as it is. */
function dayLabel(day: string): string {
  return /^\d{4}-\d{2}-\d{2}$/.test(day) ? day.slice(5) : shorten(day, 10);
}

/**
 * Vertical bars per day: for each day one bar per series side by side (height 0 for a zero), a value
 * axis on the left, and day labels under as many days as fit.
 */
export function dailyBarChart(
  id: string,
  title: string,
  days: readonly string[],
  series: readonly (ChartSeries & { readonly values: readonly number[] })[],
): string {
  const left = 48;
  const right = WIDTH - 10;
  const top = 30;
  const height = 230;
  const bottom = height - 30;
  const plotWidth = right - left;
  const plotHeight = bottom - top;
  const band = plotWidth / Math.max(1, days.length);
  const groupWidth = Math.min(band * (series.length > 1 ? 0.8 : 0.7), series.length * MAX_BAR_WIDTH);
  const barWidth = groupWidth / Math.max(1, series.length);
  const max = Math.max(0, ...series.flatMap((s) => s.values.map(count)));
  const { step, top: axisTop } = niceScale(max);

  const grid: string[] = [];
  for (let tick = 0; tick <= axisTop; tick += step) {
    const ty = bottom - (tick / axisTop) * plotHeight;
    grid.push(
      `<line x1="${left}" y1="${round(ty)}" x2="${right}" y2="${round(ty)}" stroke="${tick === 0 ? '#8c959f' : '#d8dee4'}" stroke-width="1"/>`,
      `<text x="${left - 6}" y="${round(ty + 3.5)}" font-size="${SMALL}" fill="#57606a" text-anchor="end">${formatCount(tick)}</text>`,
    );
  }
  const labelEvery = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(plotWidth / 48))));
  const columns = days.map((day, index) => {
    const x0 = left + index * band + (band - groupWidth) / 2;
    const bars = series.map((s, i) => {
      const value = count(s.values[index] ?? 0);
      const h = (value / axisTop) * plotHeight;
      const barHeight = value > 0 ? Math.max(1, h) : 0;
      return `<rect class="bar ${escapeHtml(s.key)}" x="${round(x0 + i * barWidth)}" y="${round(bottom - barHeight)}" width="${round(Math.max(0.5, barWidth - (series.length > 1 ? 0.5 : 0)))}" height="${round(barHeight)}" fill="${s.colour}"><title>${escapeHtml(`${day}: ${formatCount(value)} ${s.label.toLowerCase()}`)}</title></rect>`;
    });
    const label =
      index % labelEvery === 0
        ? `<text x="${round(left + index * band + band / 2)}" y="${bottom + 16}" font-size="${SMALL}" fill="#57606a" text-anchor="middle">${escapeHtml(dayLabel(day))}</text>`
        : '';
    return `<g class="day">${bars.join('')}${label}</g>`;
  });
  return svg(id, title, height, `${legend(series, 16, left)}${grid.join('')}${columns.join('')}`);
}

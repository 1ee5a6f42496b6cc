import type { Analysis, StatementAnalysis } from '../../../core/sql/analysis';

/**
 * The statements a session prepared with SQL `PREPARE name AS …`: what each name runs (its analysis,
 * for deciding `EXECUTE name`) and the client's own text that prepared it (what an approval of its
 * EXECUTE is bound to: analyses are shared between texts that differ only in literals, so only the
 * client's text tells two bodies apart).
 */
export class PreparedStatements {
  readonly analyses = new Map<string, StatementAnalysis>();
  readonly texts = new Map<string, string>();

  /** An allowed statement ran: what it prepares and deallocates. */
  ran(text: string, analysis: Analysis): void {
    for (const s of analysis.statements) {
      if (s.prepares) {
        this.analyses.set(s.prepares.name, s.prepares.statement);
        this.texts.set(s.prepares.name, text);
      }
      if (s.deallocates === true) {
        this.analyses.clear();
        this.texts.clear();
      } else if (s.deallocates !== undefined) {
        this.analyses.delete(s.deallocates);
        this.texts.delete(s.deallocates);
      }
    }
  }
}

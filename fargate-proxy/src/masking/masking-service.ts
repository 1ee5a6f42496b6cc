import type { CredentialSource } from '../upstream/credential-source';
import type { UpstreamEndpoint } from '../upstream/upstream-connection';
import { CatalogueConnection } from './catalogue-connection';
import { DatabaseCatalogue } from './database-catalogue';
import { MaskingPlanner } from './masking-planner';

export interface MaskingServiceOptions {
  /** How long catalogue answers are trusted when no DDL passed through the gateway. */
  catalogueTtlMs: number;
  planCacheEntries: number;
}

/**
 * The masking planner of one gateway process: one catalogue (and one catalogue session, opened on
 * first use and reopened after it ends) per database.
 */
export function createMaskingPlanner(
  upstream: UpstreamEndpoint,
  credentials: CredentialSource,
  options: MaskingServiceOptions,
): { planner: MaskingPlanner; close: () => void } {
  const catalogues = new Map<string, DatabaseCatalogue>();
  const connections = new Map<string, Promise<CatalogueConnection>>();
  const connectionFor = (database: string): Promise<CatalogueConnection> => {
    const current = connections.get(database);
    const opening = current?.then(
      (connection) => (connection.closed ? undefined : connection),
      () => undefined,
    );
    const fresh = (opening ?? Promise.resolve(undefined)).then(
      (connection) => connection ?? CatalogueConnection.open(upstream, credentials, database),
    );
    connections.set(database, fresh);
    return fresh;
  };
  const planner = new MaskingPlanner((database) => {
    let catalogue = catalogues.get(database);
    if (!catalogue) {
      catalogue = new DatabaseCatalogue(() => connectionFor(database), options.catalogueTtlMs);
      catalogues.set(database, catalogue);
    }
    return catalogue;
  }, options.planCacheEntries);
  return {
    planner,
    close: () => {
      for (const connection of connections.values())
        void connection.then(
          (c) => c.close(),
          () => undefined,
        );
      connections.clear();
    },
  };
}

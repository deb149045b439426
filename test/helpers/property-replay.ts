/**
 * fast-check parameters that replay a failed property run: OUTRIGGER_PROPERTY_SEED (and
 * OUTRIGGER_PROPERTY_PATH for the shrunk case) as the failure printed them. Empty when unset.
 */
export function propertyReplay(env: NodeJS.ProcessEnv = process.env): { seed?: number; path?: string } {
  if (env.OUTRIGGER_PROPERTY_SEED === undefined) return {};
  return { seed: Number(env.OUTRIGGER_PROPERTY_SEED), ...(env.OUTRIGGER_PROPERTY_PATH ? { path: env.OUTRIGGER_PROPERTY_PATH } : {}) };
}

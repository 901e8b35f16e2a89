// The package's functions with the seed's placeholder ids ('opportunity-uuid', 'staff-uuid', ...)
// replaced by real ones, anywhere in their arguments. Seed snippets imported with `?fixtures`
// get these instead of the package (test/alias/hooks.mjs), so their second run works on real
// records. A placeholder with no replacement is passed on unchanged (and fails, visibly).
import * as client from '@opportunities/client';

let replacements = new Map<string, string>();

/** The ids the next calls use in place of the seed's placeholders. */
export function usePlaceholders(ids: Record<string, string>): void {
  replacements = new Map(Object.entries(ids));
}

function substitute(value: unknown): unknown {
  if (typeof value === 'string') return replacements.get(value) ?? value;
  if (Array.isArray(value)) return value.map(substitute);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item)]));
  }
  return value;
}

function withFixtures<Args extends unknown[], Answer>(action: (...args: Args) => Answer): (...args: Args) => Answer {
  return (...args) => action(...(args.map(substitute) as Args));
}

export const getOpportunityCategories = withFixtures(client.getOpportunityCategories);
export const createOpportunityCategory = withFixtures(client.createOpportunityCategory);
export const getOpportunities = withFixtures(client.getOpportunities);
export const getOpportunity = withFixtures(client.getOpportunity);
export const createOpportunity = withFixtures(client.createOpportunity);
export const updateOpportunity = withFixtures(client.updateOpportunity);
export const closeOpportunity = withFixtures(client.closeOpportunity);
export const deleteOpportunity = withFixtures(client.deleteOpportunity);
export const getOpportunityNotes = withFixtures(client.getOpportunityNotes);
export const addOpportunityNote = withFixtures(client.addOpportunityNote);
export const getOpportunityActivities = withFixtures(client.getOpportunityActivities);
export const logOpportunityActivity = withFixtures(client.logOpportunityActivity);
export const getOpportunityStats = withFixtures(client.getOpportunityStats);
export const convertToClient = withFixtures(client.convertToClient);

// The seed imports its functions from `@/lib/actions/opportunities`, a Next.js path alias. This
// resolve hook maps that specifier to this package (by its own name, so through its `exports`,
// as an application would get it), the way a `paths` entry in an application's tsconfig does.
//
// A module imported with `?fixtures` in its URL (a seed snippet run a second time) gets
// build/test/support/fixture-actions.js instead: the same functions, with the seed's
// placeholder ids ('opportunity-uuid', ...) replaced by real ones.
const ALIAS = '@/lib/actions/opportunities';
const PACKAGE = '@opportunities/client';
const FIXTURE_ACTIONS = new URL('../../build/test/support/fixture-actions.js', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier !== ALIAS) return nextResolve(specifier, context);
  const withFixtures = context.parentURL !== undefined && new URL(context.parentURL).searchParams.has('fixtures');
  return nextResolve(withFixtures ? FIXTURE_ACTIONS : PACKAGE, context);
}

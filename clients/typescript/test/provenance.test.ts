// The snippets under snippets/ are the seed's own code: each one's text between `// seed:begin`
// and `// seed:end` occurs in the seed as it is, and together they cover every line of the
// seed's code that calls the API (every `await`).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';

const SEED = process.env.OPPORTUNITIES_SEED ?? '/work/shared/seed/opportunities-api.txt';
const SNIPPETS = new URL('../../snippets/', import.meta.url);

function seedRegions(): Map<string, string> {
  const regions = new Map<string, string>();
  for (const file of readdirSync(SNIPPETS).filter((name) => name.endsWith('.ts')).sort()) {
    const source = readFileSync(new URL(file, SNIPPETS), 'utf8');
    const region = /\n\/\/ seed:begin\n([\s\S]*?)\n\/\/ seed:end\n/.exec(source)?.[1];
    assert.ok(region, `${file} marks the seed's text with // seed:begin and // seed:end`);
    regions.set(file, region);
  }
  return regions;
}

test('every snippet is verbatim from the seed, and every call in the seed is in a snippet', { skip: !existsSync(SEED) && `no seed at ${SEED} (set OPPORTUNITIES_SEED)` }, () => {
  const seed = readFileSync(SEED, 'utf8');
  const regions = seedRegions();
  assert.equal(regions.size, 16);
  for (const [file, region] of regions) assert.ok(seed.includes(region), `${file} differs from the seed`);
  const covered = [...regions.values()].join('\n');
  const calls = seed.split('\n').filter((line) => line.includes('await '));
  for (const line of calls) assert.ok(covered.includes(line.replace(/\)[A-Z][\w :]*$/, ')')), `no snippet runs: ${line}`);
});

// Runs every code snippet of the seed (snippets/, copied verbatim; see test/provenance.test.ts)
// against the live server, importing the package through the seed's `@/lib/actions/opportunities`.
//
// Each snippet runs first exactly as written. Its placeholder ids ('opportunity-uuid',
// 'staff-uuid', ...) are not ids, so those calls must answer the API's error envelope, not
// throw. Snippets with placeholders then run a second time with real records in their place
// (test/support/fixture-actions.ts), and their results are checked field by field.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { createOpportunity, getOpportunity, getOpportunityActivities, type Opportunity, type Result } from '@opportunities/client';

import { usePlaceholders } from './support/fixture-actions.js';
import { existingClientId } from './support/context.js';
import { api, unique } from './support/server.js';

/** A result that must succeed, or the error code it must fail with. */
const OK = 'ok';
type Expected = Record<string, typeof OK | string>;
type Exports = Record<string, Result<{ data: any }>>;

/** The records behind the seed's placeholders, made for one run of one snippet. */
interface Fixtures {
  staff: string;
  client: string;
  category: string;
  opportunity: Opportunity;
}

interface Snippet {
  file: string;
  /** The results of the run as written. */
  verbatim: Expected;
  /** The results of the run with placeholders replaced, for snippets that have any. */
  withFixtures?: Expected;
  /** More checks of the run as written. */
  checkAsWritten?: (exports: Exports) => Promise<void> | void;
  /** More checks of the run with fixtures. */
  check?: (exports: Exports, fixtures: Fixtures) => Promise<void> | void;
}

const SNIPPETS: Snippet[] = [
  { file: '01-get-categories', verbatim: { result: OK } },
  {
    file: '02-create-category',
    verbatim: { result: OK },
    checkAsWritten: ({ result }) => {
      assert.equal(result.data.name, 'Botox Inquiry');
      assert.equal(result.data.color, '#10b981');
    },
  },
  {
    file: '03-get-opportunities',
    verbatim: { result: OK, myLeads: 'bad_request', search: OK },
    withFixtures: { result: OK, myLeads: OK, search: OK },
    check: ({ result, myLeads, search }, { staff, opportunity }) => {
      assert.ok(result.data.every((lead: Opportunity) => ['open', 'contacted', 'qualified', 'proposal'].includes(lead.status)));
      assert.ok(myLeads.data.length > 0 && myLeads.data.every((lead: Opportunity) => lead.assigned_to === staff));
      assert.ok(search.data.some((lead: Opportunity) => lead.id === opportunity.id), 'the search for botox finds the botox lead');
    },
  },
  {
    file: '04-get-opportunity',
    verbatim: { result: 'bad_request' },
    withFixtures: { result: OK },
    check: ({ result }, { opportunity }) => {
      assert.equal(result.data.id, opportunity.id);
      assert.deepEqual(result.data.notes.map((note: { content: string }) => note.content), ['Asked about prices']);
    },
  },
  {
    file: '05-create-opportunity',
    verbatim: { result: 'validation_failed', existing: 'validation_failed' },
    withFixtures: { result: OK, existing: OK },
    check: ({ result, existing }, { staff, client, category }) => {
      const lead = result.data;
      assert.equal(lead.prospect_name, 'Jane Doe');
      assert.equal(lead.prospect_email, 'jane@example.com');
      assert.equal(lead.estimated_value, 500);
      assert.equal(lead.probability, 50);
      assert.equal(lead.status, 'open');
      assert.equal(lead.category_id, category);
      assert.equal(lead.assigned_to, staff);
      assert.equal(lead.follow_up_date, '2026-02-20T10:00:00Z');
      assert.equal(existing.data.client_id, client);
      assert.equal(existing.data.estimated_value, 1200);
    },
  },
  {
    file: '06-update-opportunity',
    verbatim: { result: 'bad_request' },
    withFixtures: { result: OK },
    check: ({ result }) => {
      assert.equal(result.data.status, 'qualified');
      assert.equal(result.data.probability, 70);
      assert.equal(result.data.estimated_value, 600);
      assert.equal(result.data.follow_up_date, '2026-02-25T14:00:00Z');
    },
  },
  {
    file: '07-close-opportunity',
    verbatim: { won: 'bad_request', lost: 'bad_request' },
    // Both of the seed's examples close the same lead: the second finds it closed.
    withFixtures: { won: OK, lost: 'already_closed' },
    check: ({ won }) => {
      assert.equal(won.data.status, 'won');
      assert.equal(won.data.probability, 100);
      assert.ok(won.data.closed_at);
      assert.ok(won.data.transaction_id);
    },
  },
  {
    file: '08-delete-opportunity',
    verbatim: { result: 'bad_request' },
    withFixtures: { result: OK },
    check: async ({ result }, { opportunity }) => {
      assert.equal(result.data.id, opportunity.id);
      assert.equal((await getOpportunity(opportunity.id)).error?.code, 'not_found');
    },
  },
  {
    file: '09-add-note',
    verbatim: { result: 'bad_request' },
    withFixtures: { result: OK },
    check: ({ result }, { opportunity }) => {
      assert.equal(result.data.opportunity_id, opportunity.id);
      assert.equal(result.data.content, 'Called and left voicemail. Will try again tomorrow.');
    },
  },
  {
    file: '10-get-notes',
    verbatim: { result: 'bad_request' },
    withFixtures: { result: OK },
    check: ({ result }) => {
      assert.deepEqual(result.data.map((note: { content: string }) => note.content), ['Asked about prices']);
    },
  },
  {
    file: '11-log-activity',
    verbatim: { result: 'bad_request', meeting: 'bad_request', completed: 'bad_request' },
    withFixtures: { result: OK, meeting: OK, completed: OK },
    check: ({ result, meeting, completed }) => {
      assert.equal(result.data.activity_type, 'call');
      assert.equal(result.data.outcome, 'Very interested, sending info packet');
      assert.equal(meeting.data.scheduled_at, '2026-02-20T14:00:00Z');
      assert.ok(completed.data.completed_at);
    },
  },
  {
    file: '12-get-activities',
    verbatim: { result: 'bad_request' },
    withFixtures: { result: OK },
    check: ({ result }) => {
      assert.ok(result.data.some((activity: { description: string }) => activity.description === 'Asked for a call back'));
    },
  },
  {
    file: '13-get-stats',
    verbatim: { result: OK },
    checkAsWritten: ({ result }) => {
      const { counts, total } = result.data;
      assert.deepEqual(Object.keys(counts).sort(), ['contacted', 'lost', 'open', 'proposal', 'qualified', 'stale', 'won']);
      assert.equal(total, Object.values(counts as Record<string, number>).reduce((sum, count) => sum + count, 0));
      for (const field of ['totalValue', 'weightedValue', 'needsFollowUp']) assert.equal(typeof result.data[field], 'number');
    },
  },
  {
    file: '14-convert-to-client',
    verbatim: { result: 'bad_request' },
    withFixtures: { result: OK },
    check: async ({ result }, { opportunity }) => {
      assert.equal(result.data.created, true);
      assert.equal(result.data.client.email, opportunity.prospect_email);
      assert.equal((await getOpportunity(opportunity.id)).data?.client_id, result.data.client_id);
    },
  },
  {
    file: '15-website-lead-workflow',
    // As written, step 2 fails (its staff id is a placeholder) and the other steps succeed.
    verbatim: { opportunity: OK },
    withFixtures: { opportunity: OK },
    checkAsWritten: async ({ opportunity }) => assertWorkflowDone(opportunity.data.id, null),
    check: async ({ opportunity }, { staff }) => assertWorkflowDone(opportunity.data.id, staff),
  },
  {
    file: '16-membership-renewal-workflow',
    verbatim: { opportunity: 'validation_failed' },
    withFixtures: { opportunity: OK },
    check: ({ opportunity }, { category }) => {
      assert.equal(opportunity.data.client_id, existingClientId);
      assert.equal(opportunity.data.category_id, category);
      assert.equal(opportunity.data.estimated_value, 1200);
      assert.equal(opportunity.data.probability, 70);
      assert.equal(opportunity.data.source, 'internal');
    },
  },
];

/** The website lead workflow's steps all took effect (step 2 only where its staff id is real). */
async function assertWorkflowDone(id: string, assignedTo: string | null): Promise<void> {
  const lead = (await getOpportunity(id)).data!;
  assert.equal(lead.title, 'Website Inquiry - Botox');
  assert.equal(lead.status, 'won');
  assert.equal(lead.assigned_to ?? null, assignedTo, 'step 2');
  assert.ok(lead.client_id, 'step 5 converted it');
  const activities = (await getOpportunityActivities(id)).data!;
  assert.ok(activities.some((activity) => activity.activity_type === 'call' && activity.outcome === 'Left voicemail'), 'step 3');
}

function assertResults(exports: Exports, expected: Expected): void {
  assert.deepEqual(Object.keys(exports).sort(), Object.keys(expected).sort(), 'the snippet exports the results the test expects');
  for (const [name, outcome] of Object.entries(expected)) {
    const result = exports[name];
    const seen = result.success ? OK : result.error.code;
    assert.equal(seen, outcome, `${name}: ${JSON.stringify(result)}`);
    if (!result.success) assert.equal(typeof result.error.message, 'string');
  }
}

/** Fresh records for the placeholders of one snippet's run (each snippet may close or delete them). */
async function makeFixtures(staff: string, client: string, category: string): Promise<Fixtures> {
  const suffix = unique();
  const created = await createOpportunity({
    title: 'Botox consultation',
    prospect_name: `Ann ${suffix}`,
    prospect_email: `ann.${suffix}@example.com`,
    assigned_to: staff,
  });
  assert.ok(created.success, JSON.stringify(created));
  const opportunity = created.data;
  await api('POST', `/opportunities/${opportunity.id}/notes`, { content: 'Asked about prices' });
  await api('POST', `/opportunities/${opportunity.id}/activities`, { activity_type: 'call', description: 'Asked for a call back' });
  usePlaceholders({
    'opportunity-uuid': opportunity.id,
    'staff-uuid': staff,
    'sales-staff-uuid': staff,
    'client-uuid': client,
    'category-uuid': category,
    'membership-category-uuid': category,
    'renewal-category-uuid': category,
    'transaction-uuid': crypto.randomUUID(),
  });
  return { staff, client, category, opportunity };
}

const snippetUrl = (file: string, query = '') => new URL(`../snippets/${file}.js${query}`, import.meta.url).href;

describe('the seed snippets, as written', () => {
  for (const snippet of SNIPPETS) {
    test(snippet.file, async () => {
      const exports = (await import(snippetUrl(snippet.file))) as Exports;
      assertResults(exports, snippet.verbatim);
      await snippet.checkAsWritten?.(exports);
    });
  }
});

describe('the seed snippets, with real records in place of their placeholder ids', () => {
  let staff: string, client: string, category: string;
  before(async () => {
    const suffix = unique();
    staff = (await api('POST', '/staff', { name: `Sam ${suffix}`, email: `sam.${suffix}@example.com`, role: 'member' })).id;
    client = (await api('POST', '/clients', { name: `Client ${suffix}`, email: `client.${suffix}@example.com` })).id;
    category = (await api('POST', '/opportunity-categories', { name: `Renewals ${suffix}` })).id;
  });
  for (const snippet of SNIPPETS.filter((snippet) => snippet.withFixtures)) {
    test(snippet.file, async () => {
      const fixtures = await makeFixtures(staff, client, category);
      const exports = (await import(snippetUrl(snippet.file, '?fixtures'))) as Exports;
      assertResults(exports, snippet.withFixtures!);
      await snippet.check?.(exports, fixtures);
    });
  }
});

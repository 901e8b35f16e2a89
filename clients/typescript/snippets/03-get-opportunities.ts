// Seed snippet: /work/shared/seed/opportunities-api.txt, "Opportunities > Get Opportunities" (lines 83-97).
// Verbatim from the seed between the markers (test/provenance.test.ts checks it);
// the export after them lets the tests read the results.
// seed:begin
import { getOpportunities } from '@/lib/actions/opportunities'
// All open opportunities
const result = await getOpportunities({
status: ['open', 'contacted', 'qualified', 'proposal']
})
// Assigned to specific staff
const myLeads = await getOpportunities({
assigned_to: 'staff-uuid'
})
// Search
const search = await getOpportunities({
search: 'botox',
limit: 20,
offset: 0
})
// seed:end
export { result, myLeads, search }

// Context for the seed's membership workflow, which uses `existingClientId` without defining it.
import { api, unique } from './server.js';

const suffix = unique();
export const existingClientId = (await api('POST', '/clients', { name: `Member ${suffix}`, email: `member.${suffix}@example.com` })).id;

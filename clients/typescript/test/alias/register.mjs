// `node --import ./test/alias/register.mjs`: makes the seed's import path resolve (see hooks.mjs).
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);

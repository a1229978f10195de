#!/usr/bin/env node
// The `sentinel` command. The CLI is TypeScript; tsx loads it without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../tools/cli/src/bin.ts');

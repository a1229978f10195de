// The process entry of `sentinel` (bin/sentinel.js loads it); main.ts stays free of side effects.
import { main } from './main.js';

// `sentinel device list | head` closes the pipe early: that is not an error
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));

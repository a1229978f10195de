// What the replay needs to know before it moves the clock on: whether the automation's
// runs have finished or are all waiting on the clock (ctx.sleep). It wraps the
// automation's run and conditions to count them; the runtime itself is unchanged.
import type { AutomationContext } from '../sdk/define.js';

export class Activity {
  /** runs and conditions in progress */
  active = 0;
  /** of those, how many wait in ctx.sleep */
  parked = 0;
  #waiters: (() => void)[] = [];

  #changed(): void {
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  /** true when nothing would happen until the clock moves */
  get quiet(): boolean {
    return this.active <= this.parked;
  }

  /** resolves at the next change of the counts, or after `ms` */
  change(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async #counted<T>(work: () => Promise<T>): Promise<T> {
    this.active++;
    this.#changed();
    try {
      return await work();
    } finally {
      this.active--;
      this.#changed();
    }
  }

  #context(ctx: AutomationContext): AutomationContext {
    return {
      ...ctx,
      sleep: async (duration) => {
        this.parked++;
        this.#changed();
        try {
          await ctx.sleep(duration);
        } finally {
          this.parked--;
          this.#changed();
        }
      },
    };
  }

  #wrap(fn: unknown): unknown {
    if (typeof fn !== 'function') return fn; // left for the runtime to refuse with its reason
    const wrapped = (ctx: AutomationContext) => this.#counted(async () => fn(this.#context(ctx)));
    // a condition given as a bare function is named by its function name in the trace
    Object.defineProperty(wrapped, 'name', { value: fn.name });
    return wrapped;
  }

  /** The module's export with its run and conditions counted (anything else is passed on as is). */
  instrument(exported: unknown): unknown {
    if (!exported || typeof exported !== 'object') return exported;
    const definition = exported as Record<string, unknown>;
    const conditions = Array.isArray(definition.conditions)
      ? definition.conditions.map((c) =>
          c && typeof c === 'object' && 'check' in c ? { ...c, check: this.#wrap(c.check) } : this.#wrap(c),
        )
      : definition.conditions;
    return { ...definition, run: this.#wrap(definition.run), conditions };
  }
}

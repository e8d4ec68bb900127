// Progress on stderr: a redrawn bar with a ticking clock on a TTY, plain lines
// otherwise. Either way something appears at least at every step.

export class Progress {
  private done = 0;
  private label = '';
  private frac = 0;
  private stepStart = Date.now();
  private readonly t0 = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private readonly tty: boolean;

  constructor(public total: number, private readonly out: NodeJS.WriteStream = process.stderr) {
    this.tty = !!out.isTTY && process.env.TERM !== 'dumb';
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), 200);
      this.timer.unref();
    }
  }

  /** A new step begins (counted toward the bar). */
  start(label: string): void {
    this.label = label;
    this.frac = 0;
    this.stepStart = Date.now();
    if (this.tty) this.draw();
    else this.out.write(`[${this.done + 1}/${this.total}] ${label} ...\n`);
  }

  /** Fraction of the current step (dataset generation reports this). */
  update(frac: number): void {
    this.frac = Math.max(0, Math.min(1, frac));
  }

  /** The current step ended; `note` is printed as a line either way. */
  finish(note: string): void {
    this.done++;
    this.frac = 0;
    this.line(`  ${note}`);
  }

  /** Drop steps that will not run (a peer skipped after its first round). */
  shrink(n: number): void {
    this.total = Math.max(this.done, this.total - n);
  }

  /** Print a line without breaking the bar. */
  line(s: string): void {
    if (this.tty) {
      this.out.write(`\r\x1b[K${s}\n`);
      this.draw();
    } else {
      this.out.write(`${s}\n`);
    }
  }

  /** Clear the bar so a table can be printed on stdout. */
  clear(): void {
    if (this.tty) this.out.write('\r\x1b[K');
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clear();
  }

  private draw(): void {
    if (!this.tty) return;
    const width = 24;
    const pos = this.total ? (this.done + this.frac) / this.total : 0;
    const fill = Math.round(pos * width);
    const bar = '█'.repeat(fill) + '░'.repeat(width - fill);
    const secs = ((Date.now() - this.stepStart) / 1000).toFixed(1);
    const total = Math.round((Date.now() - this.t0) / 1000);
    const cols = this.out.columns || 100;
    const text = `${bar} ${Math.min(this.done + 1, this.total)}/${this.total} ${this.label} ${secs}s (total ${total}s)`;
    this.out.write(`\r\x1b[K${text.slice(0, cols - 1)}`);
  }
}

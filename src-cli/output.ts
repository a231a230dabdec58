// Buffered stdout for long listings; a closed pipe (| head) ends output quietly.
export class Output {
  private chunks: string[] = [];
  private size = 0;
  private closed = false;

  constructor() {
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
    });
  }

  line(s: string): void {
    if (this.closed) return;
    this.chunks.push(s, '\n');
    this.size += s.length + 1;
    if (this.size > 1 << 16) this.drain();
  }

  err(s: string): void {
    process.stderr.write(s + '\n');
  }

  private drain(): void {
    if (!this.chunks.length || this.closed) return;
    process.stdout.write(this.chunks.join(''));
    this.chunks = [];
    this.size = 0;
  }

  flush(): Promise<void> {
    this.drain();
    return new Promise((resolve) => {
      if (this.closed || process.stdout.writableLength === 0) resolve();
      else process.stdout.once('drain', () => resolve());
    });
  }
}

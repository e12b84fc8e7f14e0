import type { RefusedEvent } from '../security/mtls';

/**
 * Logs refused inbound connections (one JSON line each on stderr, so they land in the sidecar's log file) without
 * letting a flood of bad clients flood the log: at most `perSecond` lines a second, then one line saying how many
 * were not logged. The metric counts every refusal regardless.
 */
export class RefusalLog {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly perSecond = 20,
    private readonly write: (line: string) => void = (l) => process.stderr.write(l + '\n'),
    private readonly now: () => number = Date.now,
  ) {}

  log(ev: RefusedEvent, mode: string): void {
    const t = this.now();
    if (t - this.windowStart >= 1000) {
      if (this.suppressed > 0) this.write(JSON.stringify({ level: 'warn', msg: 'inbound connections refused but not logged (rate limit)', count: this.suppressed }));
      this.windowStart = t;
      this.inWindow = 0;
      this.suppressed = 0;
    }
    if (this.inWindow >= this.perSecond) {
      this.suppressed++;
      return;
    }
    this.inWindow++;
    this.write(JSON.stringify({ level: 'warn', msg: 'inbound connection refused', time: new Date(t).toISOString(), mode, reason: ev.reason, connection_security_policy: ev.connectionSecurityPolicy, remote: ev.remoteAddress ?? '-', detail: ev.detail ?? '' }));
  }
}

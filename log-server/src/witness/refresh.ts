/**
 * The log's freshness timer (`keycast log serve --witness-refresh SECONDS`): every period the
 * sequencer asks its witnesses to cosign the current checkpoint again, so a log with no new
 * entries still serves checkpoints whose cosignatures are at most about one period old, and the
 * enclaves that check freshness (#verifier decideGate, maxCheckpointAgeSeconds) stay open
 * through months without a release. One refresh at a time; a slow round delays the next. The
 * first round runs at once, so a log that was down serves fresh cosignatures as soon as it is back.
 */

/** Default period: well inside the default freshness window (600 s). */
export const DEFAULT_WITNESS_REFRESH_SECONDS = 60;

export interface CosignatureRefresher {
  refreshCosignatures(): Promise<number>;
}

/** Refreshes now, then every `seconds` after each round ends; the timer never keeps the process alive. */
export function startWitnessRefresh(target: CosignatureRefresher, seconds: number): { stop(): void } {
  if (!Number.isSafeInteger(seconds) || seconds < 1) throw new RangeError('witness refresh must be ≥ 1 s');
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const tick = (): void => {
    timer = null;
    void target
      .refreshCosignatures()
      .catch(() => 0)
      .finally(() => {
        if (!stopped) {
          timer = setTimeout(tick, seconds * 1000);
          timer.unref();
        }
      });
  };
  timer = setTimeout(tick, 0);
  timer.unref();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

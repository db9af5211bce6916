import { checkStep, type CheckLine } from './checks.js';
import { runProbe, type Probe } from './probe.js';
import type { ResolvedStep, StepResolution } from './tour.js';
import type { ZtunnelProcess } from './ztunnel-process.js';

/** Enough connections to a VIP that each of two endpoints answers with near certainty (random pick)... */
const SERVICE_MIN_CONNECTIONS = 4;
/** ...and a bound: with two endpoints, missing one in 16 random picks happens once in 32,768 runs. */
const SERVICE_MAX_CONNECTIONS = 16;

export type StepOutcome =
  | {
      readonly kind: 'ran';
      readonly step: ResolvedStep;
      readonly probes: readonly Probe[];
      readonly checks: readonly CheckLine[];
    }
  | {
      readonly kind: 'unavailable';
      readonly number: number;
      readonly reason: string;
      readonly checks: readonly CheckLine[];
    };

/** One round of the tour, step after step, so each ztunnel log line belongs to exactly one connection. */
export async function runRound(
  steps: readonly StepResolution[],
  ztunnels: ReadonlyMap<string, ZtunnelProcess>,
  round: number,
): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  for (const resolution of steps) {
    if (resolution.kind === 'unavailable') {
      const check: CheckLine = {
        kind: 'step',
        ok: false,
        text: `step skipped: ${resolution.reason}`,
        count: 1,
      };
      outcomes.push({ ...resolution, checks: [check] });
      continue;
    }
    const step = resolution.step;
    const request = `ping ${String(round)}.${String(step.number)} from ${step.source.name} to ${step.targetName}\n`;
    const probes: Probe[] = [];
    for (;;) {
      const probe = await runProbe(step, ztunnels, request);
      probes.push(probe);
      // A refusal ends a VIP's run unless the policies expect it of the endpoint it went to.
      const refusalExpected = probe.destination?.authorization.allowed === false;
      if (!step.isService || (probe.error !== undefined && !refusalExpected)) break;
      const reached = new Set(probes.flatMap((p) => (p.destination ? [p.destination.name] : [])));
      const everyone = step.destinations.every((d) => reached.has(d.name));
      if (probes.length >= SERVICE_MAX_CONNECTIONS || (everyone && probes.length >= SERVICE_MIN_CONNECTIONS))
        break;
    }
    outcomes.push({ kind: 'ran', step, probes, checks: checkStep(step, probes) });
  }
  return outcomes;
}

export function allChecks(outcomes: readonly StepOutcome[]): CheckLine[] {
  return outcomes.flatMap((outcome) => outcome.checks);
}

export function connectionCount(outcomes: readonly StepOutcome[]): number {
  return outcomes.reduce((sum, outcome) => sum + (outcome.kind === 'ran' ? outcome.probes.length : 0), 0);
}

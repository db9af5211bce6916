import type { CheckLine } from '../local-mesh/checks.js';
import { answerTally, checkStep } from './checks.js';
import { runProbe, type Probe, type ProbeContext } from './probe.js';
import type { TourStep } from './tour.js';

/** Enough connections to a VIP that each of two endpoints answers with near certainty (random pick)... */
const SERVICE_MIN_CONNECTIONS = 4;
/** ...and a bound: with two endpoints, missing one in 16 random picks happens once in 32,768 runs. */
const SERVICE_MAX_CONNECTIONS = 16;

export interface StepOutcome {
  readonly step: TourStep;
  readonly probes: readonly Probe[];
  readonly checks: readonly CheckLine[];
}

export interface TourContext extends ProbeContext {
  /** Checked between steps: Ctrl-C ends the tour early. */
  shouldStop(): boolean;
}

/** The tour, step after step, so each access log line belongs to exactly one connection. */
export async function runTour(steps: readonly TourStep[], context: TourContext): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  for (const step of steps) {
    if (context.shouldStop()) break;
    const probes: Probe[] = [];
    for (;;) {
      const probe = await runProbe(step, context, probes.length);
      probes.push(probe);
      if (!step.isService || probe.answerer === undefined) break;
      const answered = answerTally(probes);
      const everyone = step.destinations.every((d) => answered.has(d.name));
      if (probes.length >= SERVICE_MAX_CONNECTIONS || (everyone && probes.length >= SERVICE_MIN_CONNECTIONS))
        break;
    }
    outcomes.push({ step, probes, checks: checkStep(step, probes) });
  }
  return outcomes;
}

export function allChecks(outcomes: readonly StepOutcome[]): CheckLine[] {
  return outcomes.flatMap((outcome) => outcome.checks);
}

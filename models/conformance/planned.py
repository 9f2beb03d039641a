"""The state machine on a remote store: planned locally, replayed at once, judged as one run.

On a bucket 20 ms away the machine's examples cost a round trip per store request,
one after another (a quick check: ~4,200 requests, ~110 s). Its examples are
independent (each on a fresh prefix), so they could wait on the network together;
what ties them is Hypothesis, which picks each example from what the earlier ones
did. ``run_machine`` keeps that tie, so verdicts, coverage and counterexamples are
those of one sequential run on the store:

1. **Plan.** Hypothesis runs the machine, with the same seed and settings, on a
   stand-in: the target's own stores with their network answered in memory
   (``local_model``). Each example is recorded as Hypothesis ran it: the rules called
   and their arguments, which rules were enabled (their preconditions held) after the
   machine was made and after each step, and Hypothesis's status for it (valid;
   invalid: an ``assume`` failed in its last step, or no enabled rule could be drawn
   for the next; overrun: Hypothesis stopped it while drawing its next step).
2. **Replay.** Every planned example runs on the store, ``Target.parallel_runs`` at a
   time, each on its own fresh prefix, as plain calls of the same rules on a machine
   bound to the real target (with a sink of its own). After the machine is made and
   after every step the enabled rules must be the plan's, and the example must end as
   it did there: without an exception, or with the plan's failed ``assume`` in its last
   step; its teardown (the whole store read again) must pass.
3. **Judge.** If every example matched, the run is the sequential run (below): the
   replays' sinks are merged into the run's in example order. If the plan finds a
   break, or any replay does not match (the store answers otherwise than the model: a
   finding, or a store the model does not describe), the replays still running stop
   at their next step and remove what they wrote, nothing of theirs is merged, and the
   machine runs sequentially on the store, exactly as without this module: one
   counterexample, shrunk once, the sequential one. A failing store pays the plan and
   the partial replay on top (seconds); a conforming one waits on the network ~8x less.

**Why matching is enough.** Hypothesis's engine picks each test case from what it
learned of the earlier ones, and of one run of a state-machine test
(``hypothesis.stateful.get_state_machine_test``, read against Hypothesis 6.170) it
learns: the choices drawn; the status; target observations (``target()``, which
steer the ``target`` phase); and, only through a deadline or the ``too_slow`` health
check, its timing. ``event()`` and ``note()`` feed statistics and the report of a
failure (outside a Hypothesis run, in a replay, they raise: a difference, if a rule
calls them); the verbosity, what is printed (the plan runs at ``debug``, so that every
step is printed, which is where it is recorded); the ``shrink`` and ``explain``
phases, what happens once a failure is found (the plan drops them: a break ends it at
once). The choices are, in order: whether to stop (a function of the step count and
of the choices so far), which rule (drawn among the rules whose preconditions hold at
that moment: a function of the enabled rules; a draw that finds none there makes the
example invalid, one that runs out of choices makes it an overrun), and the rule's
arguments (drawn from strategies that do not look at the machine). So with the same
seed, an example whose enabled rules match after every step, its last included,
draws the same choices, and one that also ends the same way gets the same status;
the engine then learns the same of it, and picks the same next example. By induction
over the examples, the sequential run on the store runs exactly the planned examples,
in order, and each does there what its replay did: it *is* this run. That rests on
the following, each checked (else the run is sequential, and ``RUNS`` says why):

- the engine's randomness comes from the seed alone: the machine is ``@seed``-ed; no
  example database; Hypothesis's own backend; no constants drawn from the modules the
  process imported (the caller runs the machine inside
  ``environment.no_local_constants``, as ``run_conformance`` does);
- timing never reaches the engine (the plan runs ~100x faster than the store): no
  deadline, every health check suppressed;
- no ``initialize`` rules, invariants, bundles or rule targets; every rule argument is
  plain data (None, bools, numbers, text, bytes; lists, tuples and dicts of them), so
  no ``st.data()`` drawing inside a rule, no ``st.randoms()`` or ``st.runner()``, and a
  rule called with a copy gets what Hypothesis gave it;
- no example ended otherwise than valid, invalid or overrun, made a target
  observation, or drew from the global random (Hypothesis seeds it for each example;
  a replay runs without that);
- the examples share nothing that one of them can change: each on a fresh prefix,
  the stores, wrappers, engine and reader pubsafe's own (their process-wide memos are
  pure: same bytes, same answer), so running them at once, and in another order than
  one after another, changes nothing any of them does. A foreign engine or reader may
  keep state across instances, and runs sequentially.

What the checks cannot see, and the machine must keep: preconditions that only read
the machine (``_enabled`` evaluates them again; PublishMachine's three do), and
argument strategies that are functions of their choices (PublishMachine's are
Hypothesis's own, mapped by pure functions). Outside the argument: a store that
answers the same requests differently from one run to the next (a sequential run
then differs from itself too), and one that answers otherwise under the load of
several examples at once without a difference Hypothesis would see (the replays are
then what a sequential run would see on a busier store). The model's fidelity is not
part of it: a model that answers otherwise than the store costs a sequential run,
never a verdict. The equivalence tests (``tests/slow/test_planned_replay.py``) run
this module and the sequential run side by side on the test S3 server, under the
installed Hypothesis, with a store, an engine and a machine that each break one of
the matches.
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import random
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis import settings as Settings
from hypothesis.errors import HypothesisDeprecationWarning, UnsatisfiedAssumption
from hypothesis.reporting import with_reporter
from hypothesis.stateful import run_state_machine_as_test

from ..checkers.reading import reads_in_flight
from ..machine.publish_machine import PublishMachine, RunSink
from .environment import local_constants_off
from .local_model import stand_in

__all__ = ["MachineRun", "RUNS", "run_machine"]


@dataclass
class MachineRun:
    """How one ``run_machine`` call ran the machine (for tests and benchmarks)."""

    planned: int = 0  #: examples the plan ran on the stand-in
    replayed: int = 0  #: examples replayed on the store, each as planned (all of them, or 0)
    sequential: bool = False  #: the machine ran sequentially on the store
    why: str = ""  #: why it did
    #: how the planned examples ended: Hypothesis's status, "INVALID (assume)" for a failed assume in a step
    ended: dict[str, int] = field(default_factory=dict)


#: what each ``run_machine`` call did, oldest first (a check calls it once per guarantee found broken, and once more)
RUNS: list[MachineRun] = []


@dataclass
class _Step:
    rule: str
    arguments: dict[str, Any]


@dataclass
class _Example:
    steps: list[_Step] = field(default_factory=list)
    #: the rules enabled after the machine was made, then after each step that returned (what
    #: Hypothesis drew the next step among; after the last, what decided an invalid or overrun end)
    enabled: list[tuple[bool, ...]] = field(default_factory=list)
    status: str = ""  #: Hypothesis's status: VALID, INVALID or OVERRUN
    data: Any = None  #: Hypothesis's record of the example (its status is read once the plan is over)
    pending: list[Any] = field(default_factory=list)  #: the arguments of the step being printed
    random: object = None  #: the global random's state as Hypothesis seeded it for the example

    @property
    def assumed(self) -> bool:
        """Its last step raised (a failed ``assume``: it is INVALID) instead of returning."""
        return len(self.steps) == len(self.enabled)


class _Unplannable(Exception):
    """The plan cannot stand for the run (the reason is the message)."""


def run_machine(machine: type[PublishMachine], settings: Settings) -> MachineRun:
    """Run the bound, seeded ``machine``, as ``run_state_machine_as_test(machine,
    settings=settings)`` does (it raises what that raises, and fills ``machine.sink``
    as that does), planned and replayed where the store allows."""
    run = MachineRun()
    RUNS[:] = [*RUNS[-15:], run]
    target = machine.target
    if target.parallel_runs > 1:
        try:
            examples = _plan(machine, settings)
            run.planned = len(examples)
            for example in examples:
                how = example.status + (" (assume)" if example.assumed else "")
                run.ended[how] = run.ended.get(how, 0) + 1
            run.why = _replay(machine, examples)
            if not run.why:
                run.replayed = len(examples)
                return run
        except _Unplannable as exc:
            run.why = str(exc)
    else:
        run.why = "one run at a time (Target.parallel_runs is 1): a local store, nothing to wait on together"
    run.sequential = True
    run_state_machine_as_test(machine, settings=settings)
    return run


def _refusal(machine: type[PublishMachine], settings: Settings) -> str:
    """Why the plan cannot stand for this run, or "" (the checks the module docstring lists before a plan)."""
    target = machine.target
    if getattr(machine, "_hypothesis_internal_use_seed", None) is None:
        return "the machine is not seeded: each run draws other examples"
    if not local_constants_off():
        return "Hypothesis draws constants from the modules this process imported (outside no_local_constants)"
    if settings.database is not None:
        return "an example database: a run starts from what earlier runs saved"
    if getattr(settings, "backend", "hypothesis") != "hypothesis":
        return f"Hypothesis backend {settings.backend!r}: its choices need not follow from the seed"
    if settings.deadline is not None or set(HealthCheck) - set(settings.suppress_health_check):
        return "a deadline or a health check: how long an example takes would reach the engine"
    for factory in (target.engine_factory, target.reader_factory):
        if not getattr(factory, "__module__", "").startswith("pubsafe."):
            name = getattr(factory, "__qualname__", repr(factory))
            return f"{name} is not pubsafe's: it may share state between examples"
    try:
        setup = machine.setup_state()
        if setup.initializers or setup.invariants or any(r.bundles or r.targets for r in setup.rules):
            return "initialize rules, invariants or bundles: the plan records rules and plain arguments only"
    except AttributeError as exc:
        return f"this Hypothesis declares rules otherwise ({exc})"
    probe = target.store_factory()
    modelled = stand_in(probe) is not None
    target.cleanup(probe)  # on the model, when there is one: nothing sent
    return "" if modelled else "no local model of this store's transport"


def _enabled(machine: PublishMachine) -> tuple[bool, ...]:
    """Which rules Hypothesis may pick next: those whose preconditions hold (in a fixed
    order; there are no bundles, ``_refusal`` saw to that)."""
    rules = sorted(machine.rules, key=lambda r: r.function.__name__)
    return tuple(all(p(machine) for p in rule.preconditions) for rule in rules)


def _plain(value: Any) -> bool:
    """Data a rule gets the same of from a deep copy: no objects with behaviour of their own."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False


def _named(exc: BaseException) -> str:
    """An exception as the run's ``why`` names it: with what a group (Hypothesis's
    FlakyFailure) holds, so a run that went sequential says what the plan met."""
    inner = getattr(exc, "exceptions", ())
    held = f" ({'; '.join(_named(e) for e in inner)})" if inner else ""
    text = str(exc).splitlines()[0][:200] if str(exc) and not inner else ""
    return f"{type(exc).__name__}{f': {text}' if text else ''}{held}"


def _plan(machine: type[PublishMachine], settings: Settings) -> list[_Example]:
    """Every example Hypothesis runs on the stand-in, recorded; _Unplannable if the run
    cannot be planned, if it breaks there, or if the recording does not add up."""
    if why := _refusal(machine, settings):
        raise _Unplannable(why)
    target = machine.target

    def model_store() -> Any:
        store = target.store_factory()
        if stand_in(store) is None:
            raise _Unplannable("a store without a local model")
        return store

    local = dataclasses.replace(target, store_factory=model_store, leftovers=[])
    examples: list[_Example] = []

    class Recording(machine):  # type: ignore[valid-type, misc]
        """The machine on the stand-in, writing down what Hypothesis does with it."""

        def __init__(self) -> None:
            from hypothesis.control import current_build_context

            examples.append(_Example(data=current_build_context().data, random=random.getstate()))
            super().__init__()

        def _pretty_print(self, value: Any) -> Any:  # each argument of a step, before the rule runs
            if not _plain(value):
                raise _Unplannable(f"a rule argument that is not plain data: {type(value).__name__}")
            examples[-1].pending.append(copy.deepcopy(value))
            return super()._pretty_print(value)

        def _repr_step(self, rule: Any, data: Any, result: Any) -> Any:  # after the rule ran, or raised
            example = examples[-1]
            example.steps.append(_Step(rule.function.__name__, dict(zip(data, example.pending, strict=True))))
            example.pending = []
            return super()._repr_step(rule, data, result)

        def check_invariants(self, *args: Any, **kwargs: Any) -> Any:  # once made, and after each step that returned
            examples[-1].enabled.append(_enabled(self))
            return super().check_invariants(*args, **kwargs)

        def teardown(self) -> None:
            try:
                super().teardown()
            finally:  # Hypothesis seeds the global random for each example; a replay runs without that
                if random.getstate() != examples[-1].random:
                    raise _Unplannable("an example drew from the global random")

    Recording.target = local
    Recording.sink = RunSink()
    Recording.__name__ = Recording.__qualname__ = machine.__name__
    phases = [p for p in settings.phases if p not in (Phase.shrink, Phase.explain)]  # a break ends the plan at once
    planning = Settings(settings, verbosity=Verbosity.debug, phases=phases)  # debug: every step is printed (recorded)
    try:
        with with_reporter(lambda text: None), reads_in_flight(1):
            run_state_machine_as_test(Recording, settings=planning)
    except _Unplannable:
        raise
    except Exception as exc:  # noqa: BLE001 - a break found here is found again, sequentially, on the store
        raise _Unplannable(f"the plan found {_named(exc)}") from None
    for number, example in enumerate(examples, 1):
        status = getattr(getattr(example.data, "status", None), "name", "")
        if status not in ("VALID", "INVALID", "OVERRUN") or getattr(example.data, "target_observations", None):
            raise _Unplannable(f"example {number} of the plan: status {status or '?'}, or target observations")
        example.status, example.data, example.random = status, None, None
        returned = len(example.enabled) - 1  # steps that returned: each was followed by check_invariants
        if returned < 0 or len(example.steps) not in (returned, returned + 1) or (example.assumed
                                                                                  and status != "INVALID"):
            raise _Unplannable(f"the recording of example {number} does not add up ({len(example.steps)} steps, "
                               f"{len(example.enabled)} checks, {status})")
    return examples


def _replay(machine: type[PublishMachine], examples: list[_Example]) -> str:
    """Replay every example on the store, several at once. "" if each followed its plan
    (then their sinks are merged into ``machine.sink``, in order); else the first
    difference, with nothing merged and every store cleaned up."""
    target = machine.target
    stop = threading.Event()
    lock = threading.Lock()
    differences: list[tuple[int, str]] = []

    def progress(n: int) -> None:
        with lock:
            machine.sink.progress(n)

    def one(index: int, example: _Example) -> RunSink | None:
        if stop.is_set():
            return None
        own = RunSink(progress=progress)
        difference = _follow(machine, example, own, stop)
        if difference:
            stop.set()
            with lock:
                differences.append((index, difference))
            return None
        return own

    with warnings.catch_warnings(), ThreadPoolExecutor(target.parallel_runs, thread_name_prefix="example") as pool:
        # a rule's failed ``assume`` outside a Hypothesis run is deprecated, and still raises (what is compared)
        warnings.simplefilter("ignore", HypothesisDeprecationWarning)
        futures = [pool.submit(contextvars.copy_context().run, one, i, example) for i, example in enumerate(examples)]
        try:
            sinks = [future.result() for future in futures]
        except BaseException:
            stop.set()  # interrupted: the replays stop at their next step and clean up
            raise
    found = sorted(d for d in differences if d[1] != _STOPPED)
    if found or any(s is None for s in sinks):
        index, difference = found[0] if found else (0, _STOPPED)
        return f"example {index + 1} of {len(examples)} on the store: {difference}"
    for own in sinks:
        assert own is not None
        machine.sink.absorb(own)
    return ""


_STOPPED = "stopped, another example differed"


def _follow(machine: type[PublishMachine], example: _Example, sink: RunSink, stop: threading.Event) -> str:
    """Run one planned example on the store as Hypothesis would have; "" if it went as
    planned, else how it did not. The example's store is removed either way."""
    state = machine.__new__(machine)
    state.sink = sink  # type: ignore[misc]  # its own, shadowing the class one: merged only if all follow the plan
    try:
        machine.__init__(state)
    except BaseException as exc:  # noqa: BLE001 - how the example went is compared with the plan
        return f"making the machine raised {type(exc).__name__}: {exc}"
    rules = {rule.function.__name__: rule for rule in state.rules}
    difference = ""
    try:
        if _enabled(state) != example.enabled[0]:
            difference = "the rules enabled at the start differ from the plan's"
        for number, step in enumerate(example.steps, 1):
            if difference:
                break
            if stop.is_set():
                difference = _STOPPED
                break
            try:
                rules[step.rule].function(state, **copy.deepcopy(step.arguments))
            except UnsatisfiedAssumption:
                if example.assumed and number == len(example.steps):
                    break  # as in the plan: this step's ``assume`` failed, and the example ends here
                difference = f"step {number} ({step.rule}) failed an assume, which it did not in the plan"
                break
            if example.assumed and number == len(example.steps):
                difference = f"step {number} ({step.rule}) returned; in the plan its assume failed"
            elif _enabled(state) != example.enabled[number]:
                difference = f"the rules enabled after step {number} ({step.rule}) differ from the plan's"
    except BaseException as exc:  # noqa: BLE001 - how the example went is compared with the plan
        difference = f"it raised {type(exc).__name__}: {exc}"
    if difference:
        machine.target.cleanup(state.store.inner)  # its result is not used: no full check, only the clean-up
        return difference
    try:
        state.teardown()  # the full, independent check of the store, then its clean-up
    except BaseException as exc:  # noqa: BLE001
        return f"its teardown raised {type(exc).__name__}: {exc}"
    return ""


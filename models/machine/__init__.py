"""The stateful model: a Hypothesis state machine that publishes, rolls back, sweeps,
serves and races over a store, and checks every guarantee after every step: its rules
(``publish_machine``), what an example holds and the helpers the rules use (``state``),
what a run learns besides pass or fail (``sink``), the store wrapper that records what
it did (``observed``), and the inputs it draws wide (``strategies``)."""

from .publish_machine import SLOTS, PublishMachine, RunSink, replay_program

__all__ = ["PublishMachine", "RunSink", "replay_program", "SLOTS"]

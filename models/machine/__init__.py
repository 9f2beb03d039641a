"""The stateful model: a Hypothesis state machine that publishes, rolls back, sweeps,
serves and races over a store, and checks every guarantee after every step
(``publish_machine``); the store wrapper that records what it did (``observed``);
and the inputs it draws wide (``strategies``)."""

from .publish_machine import SLOTS, PublishMachine, RunSink, replay_program

__all__ = ["PublishMachine", "RunSink", "replay_program", "SLOTS"]

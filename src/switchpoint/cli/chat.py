"""`switchpoint chat`: an interactive conversation through the gateway, streamed, with the cost of
each turn. Slash commands switch models mid-conversation and manage the history."""

from __future__ import annotations

import contextlib
import difflib
import sys
from dataclasses import dataclass, field
from typing import Any

import click
from rich.text import Text

from .client import Answer, Gateway, GatewayError
from .common import api_key, console, run

HELP = """[bold]/model NAME[/bold]  switch model (the conversation so far is kept)
[bold]/history[/bold]     show the conversation
[bold]/clear[/bold]       forget the conversation (keeps the system prompt)
[bold]/cost[/bold]        spend of this session
[bold]/exit[/bold]        leave (or Ctrl-D)"""


@dataclass
class Conversation:
    model: str
    system: str | None = None
    messages: list[dict[str, str]] = field(default_factory=list)
    turns: list[Answer] = field(default_factory=list)
    known: set[str] = field(default_factory=set)  # the gateway's model ids, to check /model against

    def __post_init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.messages = [{"role": "system", "content": self.system}] if self.system else []

    @property
    def cost(self) -> float:
        return sum(t.cost for t in self.turns)

    def command(self, line: str) -> bool:
        """Run a slash command; returns False when the user wants to leave."""
        name, _, arg = line[1:].strip().partition(" ")
        arg = arg.strip()
        if name in ("exit", "quit", "q"):
            return False
        if name == "model":
            if arg:
                problem = self.unknown(arg)
                if problem:
                    console.print(f"[red]{problem}[/red]; still talking to {self.model}", highlight=False)
                    return True
                self.model = arg
                console.print(f"[dim]now talking to[/dim] [bold]{arg}[/bold]", highlight=False)
            else:
                console.print(f"[dim]model:[/dim] {self.model}", highlight=False)
        elif name == "clear":
            self.clear()
            console.print("[dim]conversation cleared[/dim]")
        elif name == "history":
            for message in self.messages:
                console.print(Text.assemble((message["role"], "bold"), ": ", message["content"]))
        elif name == "cost":
            console.print(f"[dim]{len(self.turns)} turns · ${self.cost:.6f}[/dim]", highlight=False)
        else:
            console.print(HELP)
        return True

    def unknown(self, model: str) -> str | None:
        """Why `model` cannot be asked (not in the gateway's catalogue), with the closest ids; else None."""
        if not self.known or model.split(":", 1)[0] in self.known:
            return None
        close = difflib.get_close_matches(model, sorted(self.known), n=3, cutoff=0.5)
        return f"no model {model} on the gateway" + (f" (did you mean {', '.join(close)}?)" if close else "")

    async def ask(self, text: str, max_tokens: int | None) -> Answer:
        body: dict[str, Any] = {"model": self.model, "messages": [*self.messages, {"role": "user", "content": text}]}
        if max_tokens:
            body["max_tokens"] = max_tokens

        def show(piece: str) -> None:
            sys.stdout.write(piece)
            sys.stdout.flush()

        async with Gateway() as gateway:
            answer = await gateway.chat(body, show)
        if answer.ok:
            self.messages += [{"role": "user", "content": text}, {"role": "assistant", "content": answer.text}]
            self.turns.append(answer)
        return answer


def turn(conversation: Conversation, line: str, max_tokens: int | None) -> None:
    """Ask and show one answer. Ctrl-C stops this answer (the gateway stops the upstream request) and
    returns to the prompt; the unfinished exchange is not kept in the conversation."""
    try:
        answer = run(conversation.ask(line, max_tokens))
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        console.print("[yellow]answer stopped[/yellow] [dim](not kept in the conversation)[/dim]", highlight=False)
        return
    sys.stdout.write("\n")
    if answer.ok:
        console.print(footer(answer, conversation), highlight=False)
    else:
        console.print(f"[red]error[/red] {answer.error}", highlight=False)


async def model_ids() -> set[str]:
    """The gateway's model ids (empty when they cannot be read: the gateway then says what is wrong)."""
    async with Gateway() as gateway:
        try:
            return {m["id"] for m in (await gateway.get("/api/v1/models?output_modalities=all"))["data"]}
        except GatewayError:
            return set()


def footer(answer: Answer, conversation: Conversation) -> str:
    return (f"[dim]{answer.served_model or answer.model} via {answer.provider} · {answer.prompt_tokens:,} in / "
            f"{answer.completion_tokens:,} out · ${answer.cost:.6f} this turn · ${conversation.cost:.6f} total"
            f"[/dim]")


@click.command()
@click.option("-m", "--model", required=True, help="Model to start with, e.g. openai/gpt-4o-mini.")
@click.option("-s", "--system", help="System prompt for the whole conversation.")
@click.option("--max-tokens", type=int, help="Upper bound on output tokens per answer.")
def chat(model: str, system: str | None, max_tokens: int | None) -> None:
    """Chat with MODEL in the terminal through the gateway. Type /help for commands; /model NAME
    switches models mid-conversation."""
    api_key()
    with contextlib.suppress(ImportError):  # line editing and up-arrow history where the platform has it
        import readline  # noqa: F401, PLC0415
    conversation = Conversation(model, system, known=run(model_ids()))
    problem = conversation.unknown(model)
    if problem:
        raise click.ClickException(problem)
    console.print(f"[bold]switchpoint chat[/bold] with [bold]{model}[/bold] · /help for commands, Ctrl-C stops an "
                  "answer, Ctrl-D leaves", highlight=False)
    interrupted = False
    while True:
        try:
            line = console.input(f"[bold cyan]{conversation.model}[/bold cyan] [dim]›[/dim] ").strip()
        except EOFError:
            console.print()
            break
        except KeyboardInterrupt:  # at the prompt: a second Ctrl-C in a row leaves
            console.print()
            if interrupted:
                break
            interrupted = True
            console.print("[dim](Ctrl-C again, Ctrl-D or /exit to leave)[/dim]")
            continue
        interrupted = False
        if not line:
            continue
        if line.startswith("/"):
            if not conversation.command(line):
                break
            continue
        turn(conversation, line, max_tokens)
    console.print(f"[dim]{len(conversation.turns)} turns · ${conversation.cost:.6f}[/dim]", highlight=False)

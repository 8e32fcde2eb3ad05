"""Command palette provider: every bound action of the app and the current screen, plus screen switches."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from sage_tui.keymap import all_actions


class SageCommands(Provider):
    """Offers each workstation action by its description (with its key as help text)."""

    def _entries(self) -> list[tuple[str, str, str, object]]:
        screen = self.screen
        scopes = {"global", getattr(type(screen), "SCOPE", "")}
        out = []
        for a in all_actions(self.app):
            if a.scope not in scopes:
                continue
            target = self.app if a.scope == "global" else screen
            label = a.description if a.scope == "global" else f"{a.scope.title()}: {a.description}"
            out.append((label, f"{a.key}  ·  {a.binding_id}", a.action, target))
        return out

    async def discover(self) -> Hits:
        for label, help_text, action, target in self._entries():
            yield DiscoveryHit(label, partial(self._run, target, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, help_text, action, target in self._entries():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(self._run, target, action), help=help_text)

    async def _run(self, target: object, action: str) -> None:
        await self.app.run_action(action, target)  # type: ignore[arg-type]

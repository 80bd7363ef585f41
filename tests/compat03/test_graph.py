# Compatibility suite: the unit tests of litestar-workflows 0.3 (Jacob Coffee, MIT licence),
# from github.com/JacobCoffee/litestar-workflows tests/test_graph.py (commit 8549906; its package source
# equals the 0.3.3 release's but for a Python 3.10 enum backport), run against this package.
# Adapted: imports of the shared helpers (tests.compat03.conftest) and pytest marks; 0.3 bugs are
# strict xfails naming the bug, tests of exact Mermaid text, message wording, private methods or
# 0.3's persistence protocol are skipped with the reason. The test code is otherwise theirs.
"""Tests for WorkflowGraph."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from litestar_workflows.core.definition import WorkflowDefinition


@pytest.mark.unit
class TestWorkflowGraph:
    """Tests for WorkflowGraph class."""

    def test_graph_from_definition(self, sample_workflow_definition: WorkflowDefinition) -> None:
        """Test creating graph from workflow definition."""
        from litestar_workflows.engine.graph import WorkflowGraph

        graph = WorkflowGraph.from_definition(sample_workflow_definition)

        assert graph is not None
        assert graph.definition == sample_workflow_definition

    def test_graph_get_next_steps(self, sample_workflow_definition: WorkflowDefinition, sample_context) -> None:
        """Test getting next steps from current step."""
        from litestar_workflows.engine.graph import WorkflowGraph

        graph = WorkflowGraph.from_definition(sample_workflow_definition)

        # Get next steps from start
        next_steps = graph.get_next_steps("start", context=sample_context)

        assert "approval" in next_steps

    def test_graph_get_previous_steps(self, sample_workflow_definition: WorkflowDefinition) -> None:
        """Test getting previous steps for a step."""
        from litestar_workflows.engine.graph import WorkflowGraph

        graph = WorkflowGraph.from_definition(sample_workflow_definition)

        # Get previous steps for approval
        prev_steps = graph.get_previous_steps("approval")

        assert "start" in prev_steps

    def test_graph_validate_success(self, sample_workflow_definition: WorkflowDefinition) -> None:
        """Test graph validation succeeds for valid definition."""
        from litestar_workflows.engine.graph import WorkflowGraph

        graph = WorkflowGraph.from_definition(sample_workflow_definition)

        # Should return empty list for valid graph
        errors = graph.validate()
        assert errors == []

    def test_graph_validate_catches_missing_terminal(self) -> None:
        """Test graph validation catches missing terminal steps."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Step1(BaseMachineStep):
            async def execute(self, context):
                return {}

        class Step2(BaseMachineStep):
            async def execute(self, context):
                return {}

        # Create definition with cycle: step1 -> step2 -> step1 (no terminal steps)
        definition = WorkflowDefinition(
            name="cyclic_workflow",
            version="1.0.0",
            description="Workflow with cycle",
            steps={
                "step1": Step1(name="step1", description="Step 1"),
                "step2": Step2(name="step2", description="Step 2"),
            },
            edges=[
                Edge(source="step1", target="step2"),
                Edge(source="step2", target="step1"),  # Creates cycle
            ],
            initial_step="step1",
            terminal_steps=set(),
        )

        graph = WorkflowGraph.from_definition(definition)

        # Validation should return errors (steps have no outgoing edges but aren't marked terminal)
        # Actually in a cycle, both steps HAVE outgoing edges, so this won't error
        errors = graph.validate()
        # Cycles are allowed in the current implementation - validate() doesn't detect cycles
        # This is acceptable as conditional edges can create cycles that are valid
        assert isinstance(errors, list)

    def test_graph_validate_catches_unreachable_steps(self) -> None:
        """Test graph validation catches unreachable steps."""
        from litestar_workflows.core.definition import WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Step1(BaseMachineStep):
            async def execute(self, context):
                return {}

        class Step2(BaseMachineStep):
            async def execute(self, context):
                return {}

        # Step2 is in steps but not connected
        definition = WorkflowDefinition(
            name="unreachable_workflow",
            version="1.0.0",
            description="Workflow with unreachable step",
            steps={
                "step1": Step1(name="step1", description="Step 1"),
                "step2": Step2(name="step2", description="Step 2 (unreachable)"),
            },
            edges=[],  # No edges, so step2 is unreachable
            initial_step="step1",
            terminal_steps={"step1"},
        )

        graph = WorkflowGraph.from_definition(definition)

        # Validation should detect unreachable step
        errors = graph.validate()
        assert len(errors) > 0
        assert any("unreachable" in error.lower() for error in errors)

    def test_graph_is_terminal(self, sample_workflow_definition: WorkflowDefinition) -> None:
        """Test identifying terminal steps."""
        from litestar_workflows.engine.graph import WorkflowGraph

        graph = WorkflowGraph.from_definition(sample_workflow_definition)

        assert graph.is_terminal("approval") is True
        assert graph.is_terminal("start") is False

    def test_graph_get_all_paths(self, complex_workflow_definition: WorkflowDefinition) -> None:
        """Test getting all possible execution paths."""
        from litestar_workflows.engine.graph import WorkflowGraph

        graph = WorkflowGraph.from_definition(complex_workflow_definition)

        # Get all paths from start to publish
        paths = graph.get_all_paths("start", "publish")

        # Should have at least 1 path to publish
        assert len(paths) >= 1

    def test_graph_find_path(self, complex_workflow_definition: WorkflowDefinition) -> None:
        """Test finding path between two steps."""
        from litestar_workflows.engine.graph import WorkflowGraph

        graph = WorkflowGraph.from_definition(complex_workflow_definition)

        # Use get_all_paths and take the first one
        paths = graph.get_all_paths("start", "publish")

        assert len(paths) > 0
        path = paths[0]
        assert path[0] == "start"
        assert path[-1] == "publish"

    @pytest.mark.xfail(strict=True, reason='0.3 bug: string conditions are always true (the test passes only because both edges are taken); ours evaluates them')
    def test_graph_conditional_edges(self, complex_workflow_definition: WorkflowDefinition, sample_context) -> None:
        """Test graph with conditional edges."""
        from litestar_workflows.engine.graph import WorkflowGraph

        graph = WorkflowGraph.from_definition(complex_workflow_definition)

        # Next steps from approval depend on condition
        sample_context.set("should_approve", True)
        next_steps_approved = graph.get_next_steps("approval", sample_context)

        sample_context.set("should_approve", False)
        next_steps_rejected = graph.get_next_steps("approval", sample_context)

        # Should get different paths based on condition
        assert next_steps_approved != next_steps_rejected or len(next_steps_approved) > 1

    def test_graph_parallel_paths(self, sample_context) -> None:
        """Test graph with parallel execution paths."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Start(BaseMachineStep):
            async def execute(self, context):
                return {}

        class PathA(BaseMachineStep):
            async def execute(self, context):
                return {}

        class PathB(BaseMachineStep):
            async def execute(self, context):
                return {}

        class Join(BaseMachineStep):
            async def execute(self, context):
                return {}

        definition = WorkflowDefinition(
            name="parallel_workflow",
            version="1.0.0",
            description="Workflow with parallel paths",
            steps={
                "start": Start(name="start", description="Start"),
                "path_a": PathA(name="path_a", description="Path A"),
                "path_b": PathB(name="path_b", description="Path B"),
                "join": Join(name="join", description="Join"),
            },
            edges=[
                Edge(source="start", target="path_a"),
                Edge(source="start", target="path_b"),
                Edge(source="path_a", target="join"),
                Edge(source="path_b", target="join"),
            ],
            initial_step="start",
            terminal_steps={"join"},
        )

        graph = WorkflowGraph.from_definition(definition)

        # Start should have 2 next steps (parallel)
        next_steps = graph.get_next_steps("start", sample_context)
        assert len(next_steps) == 2
        assert set(next_steps) == {"path_a", "path_b"}

    def test_graph_topological_sort(self, sample_workflow_definition: WorkflowDefinition) -> None:
        """Test topological sort using step depth."""
        from litestar_workflows.engine.graph import WorkflowGraph

        graph = WorkflowGraph.from_definition(sample_workflow_definition)

        # Use get_step_depth to verify topological ordering
        start_depth = graph.get_step_depth("start")
        approval_depth = graph.get_step_depth("approval")

        # Initial step should be at depth 0
        assert start_depth == 0

        # Approval should come after start
        assert approval_depth > start_depth

    def test_graph_validate_initial_step_missing(self) -> None:
        """Test graph validation catches missing initial step."""
        from litestar_workflows.core.definition import WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Step1(BaseMachineStep):
            async def execute(self, context):
                return {}

        # Initial step doesn't exist in steps dict
        definition = WorkflowDefinition(
            name="invalid_workflow",
            version="1.0.0",
            description="Workflow with missing initial step",
            steps={
                "step1": Step1(name="step1", description="Step 1"),
            },
            edges=[],
            initial_step="nonexistent_step",
            terminal_steps={"step1"},
        )

        graph = WorkflowGraph.from_definition(definition)
        errors = graph.validate()

        assert len(errors) > 0
        assert any("initial step" in error.lower() for error in errors)

    def test_graph_validate_invalid_edge_source(self) -> None:
        """Test graph validation catches invalid edge source."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Step1(BaseMachineStep):
            async def execute(self, context):
                return {}

        # Note: The graph will fail during construction if edge source doesn't exist
        # This tests that KeyError is raised during graph building
        definition = WorkflowDefinition(
            name="invalid_workflow",
            version="1.0.0",
            description="Workflow with invalid edge source",
            steps={
                "step1": Step1(name="step1", description="Step 1"),
            },
            edges=[
                Edge(source="nonexistent_source", target="step1"),
            ],
            initial_step="step1",
            terminal_steps={"step1"},
        )

        # Graph construction should fail with invalid edge
        try:
            graph = WorkflowGraph.from_definition(definition)
            # If we get here, the implementation changed to be more permissive
            # In that case, validate should catch it
            errors = graph.validate()
            assert len(errors) > 0
            assert any("source" in error.lower() and "not found" in error.lower() for error in errors)
        except KeyError:
            # Expected behavior - graph construction fails with invalid edge
            pass

    def test_graph_validate_invalid_edge_target(self) -> None:
        """Test graph validation catches invalid edge target."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Step1(BaseMachineStep):
            async def execute(self, context):
                return {}

        # Edge target doesn't exist - but graph can still be constructed
        # Validation should catch the missing target
        definition = WorkflowDefinition(
            name="invalid_workflow",
            version="1.0.0",
            description="Workflow with invalid edge target",
            steps={
                "step1": Step1(name="step1", description="Step 1"),
            },
            edges=[
                Edge(source="step1", target="nonexistent_target"),
            ],
            initial_step="step1",
            terminal_steps={"step1"},
        )

        # Graph construction succeeds (target not in adjacency is OK)
        # but validation should catch the error
        graph = WorkflowGraph.from_definition(definition)
        errors = graph.validate()

        assert len(errors) > 0
        assert any("target" in error.lower() and "not found" in error.lower() for error in errors)

    def test_graph_validate_step_not_terminal_no_edges(self) -> None:
        """Test validation catches steps with no edges that aren't terminal."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Step1(BaseMachineStep):
            async def execute(self, context):
                return {}

        class Step2(BaseMachineStep):
            async def execute(self, context):
                return {}

        # Step2 has no outgoing edges but isn't marked as terminal
        definition = WorkflowDefinition(
            name="invalid_workflow",
            version="1.0.0",
            description="Workflow with non-terminal step without edges",
            steps={
                "step1": Step1(name="step1", description="Step 1"),
                "step2": Step2(name="step2", description="Step 2"),
            },
            edges=[
                Edge(source="step1", target="step2"),
            ],
            initial_step="step1",
            terminal_steps=set(),  # Neither marked as terminal
        )

        graph = WorkflowGraph.from_definition(definition)
        errors = graph.validate()

        # step2 has no outgoing edges but isn't terminal
        assert len(errors) > 0
        assert any("step2" in error.lower() and "terminal" in error.lower() for error in errors)

    def test_graph_get_step_depth_unreachable(self) -> None:
        """Test get_step_depth returns -1 for unreachable steps."""
        from litestar_workflows.core.definition import WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Step1(BaseMachineStep):
            async def execute(self, context):
                return {}

        class Step2(BaseMachineStep):
            async def execute(self, context):
                return {}

        # Step2 is unreachable
        definition = WorkflowDefinition(
            name="unreachable_workflow",
            version="1.0.0",
            description="Workflow with unreachable step",
            steps={
                "step1": Step1(name="step1", description="Step 1"),
                "step2": Step2(name="step2", description="Step 2 (unreachable)"),
            },
            edges=[],
            initial_step="step1",
            terminal_steps={"step1", "step2"},
        )

        graph = WorkflowGraph.from_definition(definition)

        # step2 is unreachable, should return -1
        depth = graph.get_step_depth("step2")
        assert depth == -1

    def test_graph_get_all_paths_max_limit(self) -> None:
        """Test get_all_paths respects max_paths limit."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Step(BaseMachineStep):
            async def execute(self, context):
                return {}

        # Create a graph with multiple paths
        definition = WorkflowDefinition(
            name="multi_path_workflow",
            version="1.0.0",
            description="Workflow with multiple paths",
            steps={
                "start": Step(name="start", description="Start"),
                "mid1": Step(name="mid1", description="Mid 1"),
                "mid2": Step(name="mid2", description="Mid 2"),
                "end": Step(name="end", description="End"),
            },
            edges=[
                Edge(source="start", target="mid1"),
                Edge(source="start", target="mid2"),
                Edge(source="mid1", target="end"),
                Edge(source="mid2", target="end"),
            ],
            initial_step="start",
            terminal_steps={"end"},
        )

        graph = WorkflowGraph.from_definition(definition)

        # Get all paths with low limit
        paths = graph.get_all_paths("start", "end", max_paths=1)

        # Should respect the limit
        assert len(paths) <= 1

    def test_graph_get_all_paths_cycle_protection(self) -> None:
        """Test get_all_paths prevents infinite loops with cycles."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Step(BaseMachineStep):
            async def execute(self, context):
                return {}

        # Create a graph with a cycle
        definition = WorkflowDefinition(
            name="cyclic_workflow",
            version="1.0.0",
            description="Workflow with cycle",
            steps={
                "step1": Step(name="step1", description="Step 1"),
                "step2": Step(name="step2", description="Step 2"),
                "step3": Step(name="step3", description="Step 3"),
            },
            edges=[
                Edge(source="step1", target="step2"),
                Edge(source="step2", target="step3"),
                Edge(source="step3", target="step1"),  # Creates cycle
            ],
            initial_step="step1",
            terminal_steps=set(),
        )

        graph = WorkflowGraph.from_definition(definition)

        # Try to find path - should not hang due to cycle protection
        paths = graph.get_all_paths("step1", "step3", max_paths=10)

        # Should find at least one path (before cycle)
        assert len(paths) >= 1

    def test_graph_get_next_steps_empty_adjacency(self) -> None:
        """Test get_next_steps with step not in adjacency list."""
        from litestar_workflows.core.definition import WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Step1(BaseMachineStep):
            async def execute(self, context):
                return {}

        definition = WorkflowDefinition(
            name="simple_workflow",
            version="1.0.0",
            description="Simple workflow",
            steps={
                "step1": Step1(name="step1", description="Step 1"),
            },
            edges=[],
            initial_step="step1",
            terminal_steps={"step1"},
        )

        graph = WorkflowGraph.from_definition(definition)

        # Get next steps for non-existent step
        next_steps = graph.get_next_steps("nonexistent", context=None)  # type: ignore

        assert next_steps == []

    def test_graph_get_previous_steps_empty(self, sample_workflow_definition: WorkflowDefinition) -> None:
        """Test get_previous_steps for initial step returns empty list."""
        from litestar_workflows.engine.graph import WorkflowGraph

        graph = WorkflowGraph.from_definition(sample_workflow_definition)

        # Initial step should have no predecessors
        prev_steps = graph.get_previous_steps("start")

        assert prev_steps == []

    def test_graph_is_terminal_no_outgoing_edges(self) -> None:
        """Test is_terminal identifies steps with no outgoing edges."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Step1(BaseMachineStep):
            async def execute(self, context):
                return {}

        class Step2(BaseMachineStep):
            async def execute(self, context):
                return {}

        definition = WorkflowDefinition(
            name="workflow",
            version="1.0.0",
            description="Workflow",
            steps={
                "step1": Step1(name="step1", description="Step 1"),
                "step2": Step2(name="step2", description="Step 2"),
            },
            edges=[
                Edge(source="step1", target="step2"),
            ],
            initial_step="step1",
            terminal_steps=set(),  # Not explicitly marked
        )

        graph = WorkflowGraph.from_definition(definition)

        # step2 has no outgoing edges, should be terminal
        assert graph.is_terminal("step2") is True
        # step1 has outgoing edges, should not be terminal
        assert graph.is_terminal("step1") is False

    def test_graph_multiple_terminal_steps(self) -> None:
        """Test graph with multiple terminal steps."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.engine.graph import WorkflowGraph
        from litestar_workflows.steps.base import BaseMachineStep

        class Step(BaseMachineStep):
            async def execute(self, context):
                return {}

        definition = WorkflowDefinition(
            name="multi_terminal_workflow",
            version="1.0.0",
            description="Workflow with multiple terminal steps",
            steps={
                "start": Step(name="start", description="Start"),
                "end1": Step(name="end1", description="End 1"),
                "end2": Step(name="end2", description="End 2"),
            },
            edges=[
                Edge(source="start", target="end1"),
                Edge(source="start", target="end2"),
            ],
            initial_step="start",
            terminal_steps={"end1", "end2"},
        )

        graph = WorkflowGraph.from_definition(definition)

        # Both should be terminal
        assert graph.is_terminal("end1") is True
        assert graph.is_terminal("end2") is True
        assert graph.is_terminal("start") is False

    def test_graph_get_step_depth_initial_step(self, sample_workflow_definition: WorkflowDefinition) -> None:
        """Test get_step_depth returns 0 for initial step."""
        from litestar_workflows.engine.graph import WorkflowGraph

        graph = WorkflowGraph.from_definition(sample_workflow_definition)

        depth = graph.get_step_depth(sample_workflow_definition.initial_step)

        assert depth == 0

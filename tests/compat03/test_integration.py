# Compatibility suite: the unit tests of litestar-workflows 0.3 (Jacob Coffee, MIT licence),
# from github.com/JacobCoffee/litestar-workflows tests/test_integration.py (commit 8549906; its package source
# equals the 0.3.3 release's but for a Python 3.10 enum backport), run against this package.
# Adapted: imports of the shared helpers (tests.compat03.conftest) and pytest marks; 0.3 bugs are
# strict xfails naming the bug, tests of exact Mermaid text, message wording, private methods or
# 0.3's persistence protocol are skipped with the reason. The test code is otherwise theirs.
"""End-to-end integration tests for workflows."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from litestar_workflows.core.context import WorkflowContext
    from litestar_workflows.engine.local import LocalExecutionEngine
    from litestar_workflows.engine.registry import WorkflowRegistry


@pytest.mark.integration
@pytest.mark.asyncio
class TestSimpleLinearWorkflow:
    """Test simple linear workflow execution (A -> B -> C)."""

    async def test_linear_workflow_execution(
        self, local_engine: LocalExecutionEngine, workflow_registry: WorkflowRegistry
    ) -> None:
        """Test A -> B -> C workflow execution."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.core.types import WorkflowStatus
        from litestar_workflows.steps.base import BaseMachineStep

        execution_log = []

        class StepA(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                execution_log.append("A")
                context.set("step_a_completed", True)
                return {"step": "A"}

        class StepB(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                execution_log.append("B")
                context.set("step_b_completed", True)
                return {"step": "B"}

        class StepC(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                execution_log.append("C")
                context.set("step_c_completed", True)
                return {"step": "C"}

        definition = WorkflowDefinition(
            name="linear_workflow",
            version="1.0.0",
            description="Simple linear workflow",
            steps={
                "step_a": StepA(name="step_a", description="Step A"),
                "step_b": StepB(name="step_b", description="Step B"),
                "step_c": StepC(name="step_c", description="Step C"),
            },
            edges=[
                Edge(source="step_a", target="step_b"),
                Edge(source="step_b", target="step_c"),
            ],
            initial_step="step_a",
            terminal_steps={"step_c"},
        )

        # Create workflow class
        class LinearWorkflow:
            name = "linear_workflow"
            version = "1.0.0"
            description = "Simple linear workflow"

            @classmethod
            def get_definition(cls) -> WorkflowDefinition:
                return definition

        workflow_registry.register(LinearWorkflow)

        # Execute workflow
        instance = await local_engine.start_workflow(LinearWorkflow)

        # Allow background task to execute
        await asyncio.sleep(0.1)

        # Get updated instance
        updated = await local_engine.get_instance(instance.id)

        # Verify execution order
        assert execution_log == ["A", "B", "C"] or len(execution_log) >= 1

        # Verify completion
        assert updated.status in [WorkflowStatus.COMPLETED, WorkflowStatus.RUNNING]


@pytest.mark.integration
@pytest.mark.asyncio
class TestWorkflowWithHumanTask:
    """Test workflow that pauses for human approval."""

    async def test_workflow_pauses_for_approval(
        self, local_engine: LocalExecutionEngine, workflow_registry: WorkflowRegistry
    ) -> None:
        """Test workflow pauses at human task and resumes on completion."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.core.types import WorkflowStatus
        from litestar_workflows.steps.base import BaseHumanStep, BaseMachineStep

        class SubmitRequest(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                context.set("request_submitted", True)
                return {"submitted": True}

        class ApproveRequest(BaseHumanStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                approved = context.get("approved", False)
                return {"approved": approved}

        class ProcessApproval(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                approved = context.get("approved", False)
                context.set("processed", True)
                return {"processed": True, "approved": approved}

        definition = WorkflowDefinition(
            name="approval_workflow",
            version="1.0.0",
            description="Workflow with human approval",
            steps={
                "submit": SubmitRequest(name="submit", description="Submit request"),
                "approve": ApproveRequest(
                    name="approve",
                    title="Please Review Request",
                    description="Approve request",
                    form_schema={
                        "type": "object",
                        "properties": {
                            "approved": {"type": "boolean"},
                            "comments": {"type": "string"},
                        },
                        "required": ["approved"],
                    },
                ),
                "process": ProcessApproval(name="process", description="Process approval decision"),
            },
            edges=[
                Edge(source="submit", target="approve"),
                Edge(source="approve", target="process"),
            ],
            initial_step="submit",
            terminal_steps={"process"},
        )

        # Create workflow class
        class ApprovalWorkflow:
            name = "approval_workflow"
            version = "1.0.0"
            description = "Workflow with human approval"

            @classmethod
            def get_definition(cls) -> WorkflowDefinition:
                return definition

        workflow_registry.register(ApprovalWorkflow)

        # Start workflow
        instance = await local_engine.start_workflow(ApprovalWorkflow)

        # Allow background task to execute
        await asyncio.sleep(0.1)

        # Get updated instance
        updated = await local_engine.get_instance(instance.id)

        # Should pause at approval step
        assert updated.status == WorkflowStatus.WAITING
        assert updated.current_step == "approve"

        # Complete human task
        await local_engine.complete_human_task(
            instance.id,
            step_name="approve",
            user_id="approver_123",
            data={"approved": True, "comments": "Looks good"},
        )

        # Allow workflow to resume and complete - need more time for task to finish
        await asyncio.sleep(0.3)

        # Get final instance
        final = await local_engine.get_instance(instance.id)

        # Workflow should resume and complete
        assert final.status in [WorkflowStatus.COMPLETED, WorkflowStatus.RUNNING]
        # Verify the approval step executed
        assert final.context.get("request_submitted") is True


@pytest.mark.integration
@pytest.mark.asyncio
class TestParallelExecution:
    """Test workflow with parallel branches."""

    async def test_parallel_branch_execution(
        self, local_engine: LocalExecutionEngine, workflow_registry: WorkflowRegistry
    ) -> None:
        """Test workflow with parallel execution paths."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.core.types import WorkflowStatus
        from litestar_workflows.steps.base import BaseMachineStep

        class Start(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                context.set("started", True)
                return {"started": True}

        class ParallelA(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                context.set("path_a_executed", True)
                return {"path": "A"}

        class ParallelB(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                context.set("path_b_executed", True)
                return {"path": "B"}

        class ParallelC(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                context.set("path_c_executed", True)
                return {"path": "C"}

        class Join(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                # Verify all parallel paths executed
                all_executed = (
                    context.get("path_a_executed") and context.get("path_b_executed") and context.get("path_c_executed")
                )
                context.set("all_paths_joined", all_executed)
                return {"joined": True, "all_executed": all_executed}

        definition = WorkflowDefinition(
            name="parallel_workflow",
            version="1.0.0",
            description="Workflow with parallel execution",
            steps={
                "start": Start(name="start", description="Start"),
                "parallel_a": ParallelA(name="parallel_a", description="Parallel path A"),
                "parallel_b": ParallelB(name="parallel_b", description="Parallel path B"),
                "parallel_c": ParallelC(name="parallel_c", description="Parallel path C"),
                "join": Join(name="join", description="Join parallel paths"),
            },
            edges=[
                Edge(source="start", target="parallel_a"),
                Edge(source="start", target="parallel_b"),
                Edge(source="start", target="parallel_c"),
                Edge(source="parallel_a", target="join"),
                Edge(source="parallel_b", target="join"),
                Edge(source="parallel_c", target="join"),
            ],
            initial_step="start",
            terminal_steps={"join"},
        )

        # Create workflow class
        class ParallelWorkflow:
            name = "parallel_workflow"
            version = "1.0.0"
            description = "Workflow with parallel execution"

            @classmethod
            def get_definition(cls) -> WorkflowDefinition:
                return definition

        workflow_registry.register(ParallelWorkflow)

        instance = await local_engine.start_workflow(ParallelWorkflow)

        # Allow background task to execute
        await asyncio.sleep(0.2)

        # Get updated instance
        updated = await local_engine.get_instance(instance.id)

        # All parallel paths should eventually execute
        assert updated.status in [WorkflowStatus.COMPLETED, WorkflowStatus.RUNNING]


@pytest.mark.integration
@pytest.mark.asyncio
class TestConditionalBranching:
    """Test workflow with XOR gateway and conditional paths."""

    async def test_conditional_workflow_approved_path(
        self, local_engine: LocalExecutionEngine, workflow_registry: WorkflowRegistry
    ) -> None:
        """Test conditional workflow takes approved path."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.core.types import WorkflowStatus
        from litestar_workflows.steps.base import BaseMachineStep

        class CheckEligibility(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                # Determine eligibility based on input
                eligible = context.get("amount", 0) < 1000
                context.set("eligible", eligible)
                return {"eligible": eligible}

        class ApprovedPath(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                context.set("result", "approved")
                return {"path": "approved"}

        class RejectedPath(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                context.set("result", "rejected")
                return {"path": "rejected"}

        definition = WorkflowDefinition(
            name="conditional_workflow",
            version="1.0.0",
            description="Workflow with conditional branching",
            steps={
                "check": CheckEligibility(name="check", description="Check eligibility"),
                "approved": ApprovedPath(name="approved", description="Approved path"),
                "rejected": RejectedPath(name="rejected", description="Rejected path"),
            },
            edges=[
                Edge(source="check", target="approved", condition=lambda ctx: ctx.get("eligible") is True),
                Edge(source="check", target="rejected", condition=lambda ctx: ctx.get("eligible") is False),
            ],
            initial_step="check",
            terminal_steps={"approved", "rejected"},
        )

        # Create workflow class
        class ConditionalWorkflow:
            name = "conditional_workflow"
            version = "1.0.0"
            description = "Workflow with conditional branching"

            @classmethod
            def get_definition(cls) -> WorkflowDefinition:
                return definition

        workflow_registry.register(ConditionalWorkflow)

        # Test approved path (amount < 1000)
        instance = await local_engine.start_workflow(
            ConditionalWorkflow,
            initial_data={"amount": 500},
        )

        # Allow background task to execute
        await asyncio.sleep(0.2)

        # Get updated instance
        updated = await local_engine.get_instance(instance.id)

        # Should take approved path and complete
        assert updated.status == WorkflowStatus.COMPLETED
        # Check that workflow evaluated the condition correctly and transitioned to approved
        # Note: Terminal steps currently don't execute, they just mark completion
        step_names = [execution.step_name for execution in updated.context.step_history]
        assert "check" in step_names
        # Verify it went to the approved path (check step should have set eligible=True)
        assert updated.context.get("eligible") is True

    async def test_conditional_workflow_rejected_path(
        self, local_engine: LocalExecutionEngine, workflow_registry: WorkflowRegistry
    ) -> None:
        """Test conditional workflow takes rejected path."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.core.types import WorkflowStatus
        from litestar_workflows.steps.base import BaseMachineStep

        class CheckEligibility(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                eligible = context.get("amount", 0) < 1000
                context.set("eligible", eligible)
                return {"eligible": eligible}

        class ApprovedPath(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                context.set("result", "approved")
                return {"path": "approved"}

        class RejectedPath(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                context.set("result", "rejected")
                return {"path": "rejected"}

        definition = WorkflowDefinition(
            name="conditional_workflow_2",
            version="1.0.0",
            description="Workflow with conditional branching",
            steps={
                "check": CheckEligibility(name="check", description="Check eligibility"),
                "approved": ApprovedPath(name="approved", description="Approved path"),
                "rejected": RejectedPath(name="rejected", description="Rejected path"),
            },
            edges=[
                Edge(source="check", target="approved", condition=lambda ctx: ctx.get("eligible") is True),
                Edge(source="check", target="rejected", condition=lambda ctx: ctx.get("eligible") is False),
            ],
            initial_step="check",
            terminal_steps={"approved", "rejected"},
        )

        # Create workflow class
        class ConditionalWorkflow2:
            name = "conditional_workflow_2"
            version = "1.0.0"
            description = "Workflow with conditional branching"

            @classmethod
            def get_definition(cls) -> WorkflowDefinition:
                return definition

        workflow_registry.register(ConditionalWorkflow2)

        # Test rejected path (amount >= 1000)
        instance = await local_engine.start_workflow(
            ConditionalWorkflow2,
            initial_data={"amount": 5000},
        )

        # Allow background task to execute
        await asyncio.sleep(0.2)

        # Get updated instance
        updated = await local_engine.get_instance(instance.id)

        # Should take rejected path and complete
        assert updated.status == WorkflowStatus.COMPLETED
        # Check that workflow evaluated the condition correctly and transitioned to rejected
        # Note: Terminal steps currently don't execute, they just mark completion
        step_names = [execution.step_name for execution in updated.context.step_history]
        assert "check" in step_names
        # Verify it went to the rejected path (check step should have set eligible=False)
        assert updated.context.get("eligible") is False


@pytest.mark.integration
@pytest.mark.asyncio
@pytest.mark.e2e
class TestComplexWorkflow:
    """Test complex workflow with multiple patterns."""

    async def test_document_approval_workflow(
        self, local_engine: LocalExecutionEngine, workflow_registry: WorkflowRegistry
    ) -> None:
        """Test complex document approval workflow."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.core.types import WorkflowStatus
        from litestar_workflows.steps.base import BaseHumanStep, BaseMachineStep

        class SubmitDocument(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                context.set("document_submitted", True)
                return {"submitted": True}

        class ValidateDocument(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                # Simulate validation
                valid = context.get("document_valid", True)
                context.set("validated", valid)
                return {"valid": valid}

        class ManagerApproval(BaseHumanStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                approved = context.get("manager_approved", False)
                context.set("manager_decision", approved)
                return {"approved": approved}

        class DirectorApproval(BaseHumanStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                approved = context.get("director_approved", False)
                context.set("director_decision", approved)
                return {"approved": approved}

        class PublishDocument(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                context.set("published", True)
                return {"published": True}

        class RejectDocument(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                context.set("rejected", True)
                return {"rejected": True}

        definition = WorkflowDefinition(
            name="document_workflow",
            version="1.0.0",
            description="Complex document approval workflow",
            steps={
                "submit": SubmitDocument(name="submit", description="Submit document"),
                "validate": ValidateDocument(name="validate", description="Validate document"),
                "manager_approval": ManagerApproval(
                    name="manager_approval",
                    title="Manager Review",
                    description="Manager approval",
                    form_schema={"type": "object", "properties": {"approved": {"type": "boolean"}}},
                ),
                "director_approval": DirectorApproval(
                    name="director_approval",
                    title="Director Review",
                    description="Director approval",
                    form_schema={"type": "object", "properties": {"approved": {"type": "boolean"}}},
                ),
                "publish": PublishDocument(name="publish", description="Publish document"),
                "reject": RejectDocument(name="reject", description="Reject document"),
            },
            edges=[
                Edge(source="submit", target="validate"),
                Edge(source="validate", target="manager_approval", condition=lambda ctx: ctx.get("validated") is True),
                Edge(source="validate", target="reject", condition=lambda ctx: ctx.get("validated") is False),
                Edge(
                    source="manager_approval",
                    target="director_approval",
                    condition=lambda ctx: ctx.get("manager_decision") is True,
                ),
                Edge(
                    source="manager_approval",
                    target="reject",
                    condition=lambda ctx: ctx.get("manager_decision") is False,
                ),
                Edge(
                    source="director_approval",
                    target="publish",
                    condition=lambda ctx: ctx.get("director_decision") is True,
                ),
                Edge(
                    source="director_approval",
                    target="reject",
                    condition=lambda ctx: ctx.get("director_decision") is False,
                ),
            ],
            initial_step="submit",
            terminal_steps={"publish", "reject"},
        )

        # Create workflow class
        class DocumentWorkflow:
            name = "document_workflow"
            version = "1.0.0"
            description = "Complex document approval workflow"

            @classmethod
            def get_definition(cls) -> WorkflowDefinition:
                return definition

        workflow_registry.register(DocumentWorkflow)

        # Start workflow with valid document
        instance = await local_engine.start_workflow(
            DocumentWorkflow,
            initial_data={"document_valid": True},
        )

        # Allow background task to execute
        await asyncio.sleep(0.1)

        # Get updated instance
        updated = await local_engine.get_instance(instance.id)

        # Workflow should proceed through validation and pause at manager approval
        assert updated.status == WorkflowStatus.WAITING
        assert updated.current_step == "manager_approval"


@pytest.mark.integration
@pytest.mark.asyncio
class TestWorkflowRecovery:
    """Test workflow error handling and recovery."""

    async def test_workflow_retry_after_failure(
        self, local_engine: LocalExecutionEngine, workflow_registry: WorkflowRegistry
    ) -> None:
        """Test retrying workflow after step failure."""
        from litestar_workflows.core.definition import Edge, WorkflowDefinition
        from litestar_workflows.core.types import WorkflowStatus
        from litestar_workflows.steps.base import BaseMachineStep

        attempt_count = 0

        class UnreliableStep(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                nonlocal attempt_count
                attempt_count += 1

                if attempt_count < 3:
                    raise RuntimeError("Simulated failure")

                return {"success": True, "attempts": attempt_count}

        class SuccessStep(BaseMachineStep):
            async def execute(self, context: WorkflowContext) -> dict[str, Any]:
                return {"completed": True}

        definition = WorkflowDefinition(
            name="retry_workflow",
            version="1.0.0",
            description="Workflow with retry logic",
            steps={
                "unreliable": UnreliableStep(name="unreliable", description="Unreliable step that may fail"),
                "success": SuccessStep(name="success", description="Success step"),
            },
            edges=[Edge(source="unreliable", target="success")],
            initial_step="unreliable",
            terminal_steps={"success"},
        )

        # Create workflow class
        class RetryWorkflow:
            name = "retry_workflow"
            version = "1.0.0"
            description = "Workflow with retry logic"

            @classmethod
            def get_definition(cls) -> WorkflowDefinition:
                return definition

        workflow_registry.register(RetryWorkflow)

        # First attempt should fail
        instance = await local_engine.start_workflow(RetryWorkflow)

        # Allow background task to execute
        await asyncio.sleep(0.1)

        # Get updated instance
        updated = await local_engine.get_instance(instance.id)

        # First attempt should fail (current engine doesn't have retry logic)
        assert updated.status == WorkflowStatus.FAILED
        assert attempt_count == 1

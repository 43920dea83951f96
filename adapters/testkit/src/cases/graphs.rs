//! Cases of optional capabilities: graphs, suspend and resume.

use super::*;

/// Model and instance graphs when supported, Unsupported otherwise.
pub async fn graphs_follow_capabilities(e: &dyn WorkflowEngine, f: &Fixture) {
    let caps = e.info().capabilities;
    let mg = e.model_graph(&f.initiator, &f.model).await;
    if caps.model_graph {
        let g = mg.unwrap_or_else(|err| panic!("[{}] model graph: {err:?}", f.label));
        assert!(
            g.nodes.iter().any(|n| n.start),
            "[{}] a start node",
            f.label
        );
        assert!(g.nodes.iter().any(|n| n.end), "[{}] an end node", f.label);
        assert!(
            g.nodes.iter().all(|n| n.state == NodeState::Validated),
            "[{}]",
            f.label
        );
        for t in &g.transitions {
            assert!(
                g.nodes.iter().any(|n| n.id == t.source),
                "[{}] dangling source {}",
                f.label,
                t.source
            );
            assert!(
                g.nodes.iter().any(|n| n.id == t.target),
                "[{}] dangling target {}",
                f.label,
                t.target
            );
        }
        expect_kind(
            f,
            "unknown model graph",
            e.model_graph(&f.initiator, "NoSuchModelAnywhere").await,
            ErrorKind::NotFound,
        );
    } else {
        expect_kind(
            f,
            "model graph without capability",
            mg,
            ErrorKind::Unsupported,
        );
    }
    let wf = start(e, f).await;
    let wg = e.workflow_graph(&f.initiator, &wf.id).await;
    if caps.workflow_graph {
        let g = wg.unwrap_or_else(|err| panic!("[{}] workflow graph: {err:?}", f.label));
        let t = &open_tasks(e, f, &wf.id).await[0];
        let node = g.nodes.iter().find(|n| n.id == t.node_id);
        assert_eq!(
            node.map(|n| n.state),
            Some(NodeState::Suspended),
            "[{}] the node holding the open task is suspended",
            f.label
        );
    } else {
        expect_kind(
            f,
            "workflow graph without capability",
            wg,
            ErrorKind::Unsupported,
        );
    }
}

/// Suspend and resume when supported, Unsupported otherwise.
pub async fn suspend_resume_follows_capability(e: &dyn WorkflowEngine, f: &Fixture) {
    let wf = start(e, f).await;
    if e.info().capabilities.suspend_resume {
        e.suspend(&f.admin, &wf.id).await.expect("suspend");
        assert_eq!(
            e.workflow(&f.admin, &wf.id).await.map(|w| w.state),
            Ok(WorkflowState::Suspended)
        );
        e.resume(&f.admin, &wf.id).await.expect("resume");
        assert_eq!(
            e.workflow(&f.admin, &wf.id).await.map(|w| w.state),
            Ok(WorkflowState::Running)
        );
    } else {
        expect_kind(
            f,
            "suspend",
            e.suspend(&f.admin, &wf.id).await,
            ErrorKind::Unsupported,
        );
        expect_kind(
            f,
            "resume",
            e.resume(&f.admin, &wf.id).await,
            ErrorKind::Unsupported,
        );
    }
}

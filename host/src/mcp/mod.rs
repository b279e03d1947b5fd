//! `baton mcp`: the agents' door. An MCP server over stdio whose tools are the ones
//! agents already call: claude-flow 3's memory tools (`memory_store`,
//! `memory_retrieve`, …) and the eventuali server's agent lifecycle (`start_agent`,
//! `emit_agent_event`, `complete_agent`, …), plus baton's own pipeline tools (gate
//! check, status, events). An agent definition written for either server works
//! unchanged when its `.mcp.json` entry points at `baton mcp`.
//!
//! Every tool is a thin call into the [`Service`]: arguments in, the result out as
//! JSON (structured content, and the same as text). A failure of the call (a refused
//! document, a missing key, a bad argument) is a tool error whose structured content
//! says what failed, its kind, hints and, for a document its gates refused, the gate
//! report; a malformed request is a protocol error. The tokio runtime lives here and
//! nowhere else: tool calls run on blocking threads against the synchronous service.

mod args;
mod replies;
mod tools;

use std::sync::Arc;

use rmcp::ServiceExt as _;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::service::{ErrorKind, Service};

/// The longest JSON-RPC line read; a longer one is dropped and logged. Tools refuse
/// values over [`tools::MAX_VALUE_BYTES`] with an error well before this.
const MAX_LINE_BYTES: usize = 64 << 20;

/// Answers one tool call as the server does: `None` for an unknown tool. For
/// benchmarks and tests that measure a call inside the server.
pub fn call(
    service: &Service,
    tool: &str,
    arguments: rmcp::model::JsonObject,
) -> Option<rmcp::model::CallToolResult> {
    tools::find(tool).map(|t| (t.call)(service, arguments))
}

/// Serves MCP on standard input and output until the client closes them.
pub fn serve(service: Service) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let handler = Handler {
            service: Arc::new(service.keep_connection()),
        };
        let (input, output) = stdio();
        let transport = rmcp::transport::async_rw::AsyncRwTransport::new_server(input, output)
            .with_max_line_length(MAX_LINE_BYTES);
        let running = handler
            .serve(transport)
            .await
            .map_err(|e| anyhow::anyhow!("the MCP session did not start: {e}"))?;
        running
            .waiting()
            .await
            .map_err(|e| anyhow::anyhow!("the MCP session failed: {e}"))?;
        anyhow::Ok(())
    })
}

type Input = Box<dyn tokio::io::AsyncRead + Send + Unpin>;
type Output = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// Standard input and output for the transport. Pipes (as MCP clients start their
/// servers) are read and written on the runtime's own reactor; tokio's `stdin()` and
/// `stdout()` would hand every read and write to a blocking thread and back, two
/// thread hops per message. Anything else (a terminal, a file) goes that way.
fn stdio() -> (Input, Output) {
    use std::os::fd::AsFd as _;
    use tokio::net::unix::pipe;
    let input: Input = match std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Receiver::from_owned_fd)
    {
        Ok(pipe) => Box::new(pipe),
        Err(_) => Box::new(tokio::io::stdin()),
    };
    let output: Output = match std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Sender::from_owned_fd)
    {
        Ok(pipe) => Box::new(pipe),
        Err(_) => Box::new(tokio::io::stdout()),
    };
    (input, output)
}

/// The MCP handler: the tool table over one service.
#[derive(Clone)]
struct Handler {
    service: Arc<Service>,
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("baton", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "baton's memory (claude-flow's memory_* tools), the agent lifecycle \
                 (eventuali's start_agent, emit_agent_event, complete_agent, …) and the \
                 pipeline (gate_check, pipeline_status, events_query, agent_inputs, partitions, \
                 agent_output). Documents bound for \
                 gated keys must pass their quality gates; a refusal lists every finding.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::list()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(tool) = tools::find(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{}`", crate::text::short(&request.name)),
                serde_json::to_value(UnknownTool {
                    tools: tools::names(),
                })
                .ok(),
            ));
        };
        // The call's span, as OpenTelemetry's MCP conventions name it; it continues
        // the caller's trace when the request carries `_meta.traceparent`.
        let span = tracing::info_span!(
            "mcp",
            otel.name = %format!("tools/call {}", tool.name),
            otel.kind = "server",
            mcp.method.name = "tools/call",
            gen_ai.tool.name = tool.name,
            gen_ai.operation.name = "execute_tool",
            jsonrpc.request.id = %context.id,
            error.type = tracing::field::Empty,
        );
        crate::telemetry::continue_trace(&span, context.meta.get_traceparent());
        let service = self.service.clone();
        let arguments = request.arguments.unwrap_or_default();
        let result = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let result = (tool.call)(&service, arguments);
            if result.is_error == Some(true) {
                span.record("error.type", "tool_error");
            }
            if result.is_error == Some(true)
                && result
                    .structured_content
                    .as_ref()
                    .and_then(|b| b.get("kind"))
                    .and_then(|k| k.as_str())
                    == Some(ErrorKind::Store.code())
            {
                service.forget_connection();
            }
            // A call that found no memory server opened the store itself and has
            // released it: start one, so that the calls after it (and other
            // processes) share the store through it.
            service.start_server_if_opened_here();
            result
        })
        .await
        .map_err(|e| ErrorData::internal_error(format!("the tool call failed: {e}"), None))?;
        Ok(result.into())
    }
}

/// The data of an unknown tool's error: the tools there are.
#[derive(serde::Serialize)]
struct UnknownTool {
    tools: Vec<&'static str>,
}

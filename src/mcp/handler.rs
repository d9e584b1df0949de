//! [`PaidServer`] as an rmcp [`ServerHandler`]: the priced calls go
//! through [`PaidServer::paid`], initialization gains
//! `capabilities.experimental.payment`, and every other method is the
//! wrapped handler's, forwarded one by one (rmcp's streamable HTTP service
//! takes a `ServerHandler`, so the wrapper must be one).

#![allow(deprecated)] // `subscribe` and `unsubscribe` are forwarded too.

use std::borrow::Cow;
use std::future::Future;

use rmcp::ErrorData as McpError;
use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, CancelledNotificationParam,
    CompleteRequestParams, CompleteResult, CustomNotification, CustomRequest, CustomResult,
    DiscoverResult, GetPromptRequestParams, GetPromptResponse, GetSkillRequestParams,
    GetSkillResult, GetTaskParams, GetTaskResult, InitializeRequestParams, InitializeResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListSkillsResult,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ProtocolVersion,
    ReadResourceDirectoryRequestParams, ReadResourceDirectoryResult, ReadResourceRequestParams,
    ReadResourceResponse, ServerConfig, SetLevelRequestParams, SubscribeRequestParams,
    SubscriptionFilter, Tool, UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{
    MaybeSendFuture, NotificationContext, RequestContext, RoleServer, SubscriptionContext,
};

use super::prices::Operation;
use super::server::{Call, PaidServer, client_accept};
use super::wire::CREDENTIAL_KEY;

/// The methods whose calls may be priced: sent as notifications, they are
/// dropped (a notification gets no answer, so it could get no challenge).
const PAYABLE_METHODS: [&str; 3] = ["tools/call", "resources/read", "prompts/get"];

/// The client's declared payment methods, from its `initialize`.
fn accept_of(context: &RequestContext<RoleServer>) -> Option<crate::protocol::AcceptPayment> {
    client_accept(&context.peer.peer_info()?.capabilities)
}

impl<H: ServerHandler> ServerHandler for PaidServer<H> {
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let call = Call {
            operation: Operation::Tool,
            name: &request.name,
            arguments: request.arguments.as_ref(),
        };
        let Some(price) = self.price_of(&call) else {
            return self.get_ref().call_tool(request, context).await;
        };
        // Taken out: the tool never sees the credential.
        let credential = context.meta.remove(CREDENTIAL_KEY);
        let accept = accept_of(&context);
        let serve = self.get_ref().call_tool(request.clone(), context);
        self.paid(&call, &price, credential.as_ref(), accept.as_ref(), serve)
            .await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let call = Call {
            operation: Operation::Resource,
            name: &request.uri,
            arguments: None,
        };
        let Some(price) = self.price_of(&call) else {
            return self.get_ref().read_resource(request, context).await;
        };
        // Taken out: the tool never sees the credential.
        let credential = context.meta.remove(CREDENTIAL_KEY);
        let accept = accept_of(&context);
        let serve = self.get_ref().read_resource(request.clone(), context);
        self.paid(&call, &price, credential.as_ref(), accept.as_ref(), serve)
            .await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let call = Call {
            operation: Operation::Prompt,
            name: &request.name,
            arguments: request.arguments.as_ref(),
        };
        let Some(price) = self.price_of(&call) else {
            return self.get_ref().get_prompt(request, context).await;
        };
        // Taken out: the tool never sees the credential.
        let credential = context.meta.remove(CREDENTIAL_KEY);
        let accept = accept_of(&context);
        let serve = self.get_ref().get_prompt(request.clone(), context);
        self.paid(&call, &price, credential.as_ref(), accept.as_ref(), serve)
            .await
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, McpError> {
        let mut result = self.get_ref().initialize(request, context).await?;
        self.advertise(&mut result.capabilities);
        Ok(result)
    }

    fn negotiate_initialize(
        &self,
        request: &InitializeRequestParams,
    ) -> Result<InitializeResult, McpError> {
        let mut result = self.get_ref().negotiate_initialize(request)?;
        self.advertise(&mut result.capabilities);
        Ok(result)
    }

    fn get_info(&self) -> ServerConfig {
        let mut info = self.get_ref().get_info();
        self.advertise(&mut info.capabilities);
        info
    }

    async fn on_custom_notification(
        &self,
        notification: CustomNotification,
        context: NotificationContext<RoleServer>,
    ) {
        if PAYABLE_METHODS.contains(&notification.method.as_str()) {
            return;
        }
        self.get_ref()
            .on_custom_notification(notification, context)
            .await;
    }

    fn ping(
        &self,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.get_ref().ping(context)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.get_ref().supported_protocol_versions()
    }

    fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<DiscoverResult, McpError>> + MaybeSendFuture + '_ {
        self.get_ref().discover(context)
    }

    fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CompleteResult, McpError>> + MaybeSendFuture + '_ {
        self.get_ref().complete(request, context)
    }

    fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.get_ref().set_level(request, context)
    }

    fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListPromptsResult, McpError>> + MaybeSendFuture + '_ {
        self.get_ref().list_prompts(request, context)
    }

    fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourcesResult, McpError>> + MaybeSendFuture + '_ {
        self.get_ref().list_resources(request, context)
    }

    fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourceTemplatesResult, McpError>> + MaybeSendFuture + '_
    {
        self.get_ref().list_resource_templates(request, context)
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.get_ref().accepted_subscription_filter(requested)
    }

    fn listen(
        &self,
        context: SubscriptionContext,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.get_ref().listen(context)
    }

    fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.get_ref().subscribe(request, context)
    }

    fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.get_ref().unsubscribe(request, context)
    }

    fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListToolsResult, McpError>> + MaybeSendFuture + '_ {
        self.get_ref().list_tools(request, context)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.get_ref().get_tool(name)
    }

    fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CustomResult, McpError>> + MaybeSendFuture + '_ {
        self.get_ref().on_custom_request(request, context)
    }

    fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.get_ref().on_cancelled(notification, context)
    }

    fn on_progress(
        &self,
        notification: ProgressNotificationParam,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.get_ref().on_progress(notification, context)
    }

    fn on_initialized(
        &self,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.get_ref().on_initialized(context)
    }

    fn on_roots_list_changed(
        &self,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.get_ref().on_roots_list_changed(context)
    }

    fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetTaskResult, McpError>> + MaybeSendFuture + '_ {
        self.get_ref().get_task(request, context)
    }

    fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.get_ref().update_task(request, context)
    }

    fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.get_ref().cancel_task(request, context)
    }

    fn list_skills(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListSkillsResult, McpError>> + MaybeSendFuture + '_ {
        self.get_ref().list_skills(request, context)
    }

    fn get_skill(
        &self,
        request: GetSkillRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetSkillResult, McpError>> + MaybeSendFuture + '_ {
        self.get_ref().get_skill(request, context)
    }

    fn read_resource_directory(
        &self,
        request: ReadResourceDirectoryRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ReadResourceDirectoryResult, McpError>> + MaybeSendFuture + '_
    {
        self.get_ref().read_resource_directory(request, context)
    }
}

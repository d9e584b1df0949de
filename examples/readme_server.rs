//! One cent a request, paid on Tempo: the README's first program.
//! `MPP_SECRET_KEY`, `TEMPO_RECIPIENT` and `TEMPO_RPC_URL` configure it.
use axum::{Router, routing::get};
use tower_mpp::axum::Charge;
use tower_mpp::layer::PaymentLayer;
use tower_mpp::method::{Payments, Price, StaticPrice};
use tower_mpp::tempo::TempoCharge;

struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::decimal("0.01")
    }
}

async fn joke(_paid: Charge<OneCent>) -> &'static str {
    "Why did the agent pay? It had no account."
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let payments = Payments::builder()
        .realm_from_env("localhost")
        .secret_from_env()
        .method(TempoCharge::builder().from_env().connect().await?)
        .build()?;
    let app = Router::new()
        .route("/joke", get(joke))
        .layer(PaymentLayer::new(payments));
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

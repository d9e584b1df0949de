//! Pays a Tempo-charged URL: the README's client.
//! `PAYER_KEY` and `TEMPO_RPC_URL` configure it.
use tower_mpp::client::{PaymentExt, PrivateKeySigner, ReceiptExt, TempoProvider};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let signer: PrivateKeySigner = std::env::var("PAYER_KEY")?.parse()?;
    let provider = TempoProvider::new(signer, std::env::var("TEMPO_RPC_URL")?)?;
    let url = std::env::args()
        .nth(1)
        .unwrap_or("http://127.0.0.1:3000/joke".into());
    let response = reqwest::Client::new()
        .get(url)
        .send_with_payment(&provider)
        .await?;
    if let Some(receipt) = response.payment_receipt() {
        let receipt = receipt?;
        println!("paid {} with {}", receipt.method, receipt.reference);
    }
    println!("{}", response.text().await?);
    Ok(())
}

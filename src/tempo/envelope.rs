//! The fee-payer envelope (type byte `0x78`): how clients hand a sponsored
//! transaction to the server.
//!
//! It is the RLP list of a signed Tempo transaction with two differences:
//! the fee token is empty, and where the fee payer's signature goes it holds
//! the sender's 20-byte address. The deployed SDKs (mppx, the `mpp` crate,
//! pympp) send sponsored payments this way; a `0x76` transaction with the
//! placeholder signature `(0, 0, false)` is accepted too.

use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::Address;
use alloy_rlp::Header;
use tempo_alloy::primitives::transaction::{
    AASigned, FEE_PAYER_SIGNATURE_MARKER, TEMPO_TX_TYPE_ID,
};

/// The type byte of the fee-payer envelope.
pub(crate) const FEE_PAYER_ENVELOPE_TYPE: u8 = 0x78;
/// Index of the fee payer slot in the transaction's RLP list.
const FEE_PAYER_SLOT: usize = 11;
/// RLP of the placeholder fee payer signature `(v = false, r = 0, s = 0)`.
const PLACEHOLDER: [u8; 4] = [0xc3, 0x80, 0x80, 0x80];

/// Decodes a `0x78` envelope into the signed transaction it stands for (with
/// the placeholder fee payer signature) and the sender it names.
pub(crate) fn decode(bytes: &[u8]) -> Result<(AASigned, Address), &'static str> {
    const UNREADABLE: &str = "the fee-payer envelope does not decode";
    let Some((&FEE_PAYER_ENVELOPE_TYPE, body)) = bytes.split_first() else {
        return Err("not a fee-payer envelope");
    };
    let items = split_list(body).ok_or(UNREADABLE)?;
    // The sender is a 20-byte string: 0x94 then the address.
    let sender = match items
        .get(FEE_PAYER_SLOT)
        .and_then(|item| item.split_first())
    {
        Some((0x94, address)) if address.len() == 20 => Address::from_slice(address),
        _ => return Err("the fee-payer envelope does not name its sender"),
    };
    let tx = join_list(TEMPO_TX_TYPE_ID, &items, &PLACEHOLDER);
    let mut slice = tx.as_slice();
    let signed = AASigned::decode_2718(&mut slice).map_err(|_| UNREADABLE)?;
    if !slice.is_empty() {
        return Err(UNREADABLE);
    }
    Ok((signed, sender))
}

/// Encodes a signed transaction that awaits its fee payer as a `0x78`
/// envelope naming `sender` (what a client sends for a sponsored charge).
pub fn encode_fee_payer_envelope(signed: &AASigned, sender: Address) -> Vec<u8> {
    let mut tx = signed.tx().clone();
    tx.fee_token = None;
    tx.fee_payer_signature = Some(FEE_PAYER_SIGNATURE_MARKER);
    let encoded = AASigned::new_unhashed(tx, signed.signature().clone()).encoded_2718();
    let items = split_list(&encoded[1..]).expect("a transaction just encoded splits into items");
    let mut sender_item = Vec::with_capacity(21);
    sender_item.push(0x94);
    sender_item.extend_from_slice(sender.as_slice());
    join_list(FEE_PAYER_ENVELOPE_TYPE, &items, &sender_item)
}

/// The raw items of one RLP list that spans all of `body`.
fn split_list(mut body: &[u8]) -> Option<Vec<&[u8]>> {
    let header = Header::decode(&mut body).ok()?;
    if !header.list || header.payload_length != body.len() {
        return None;
    }
    let mut items = Vec::with_capacity(16);
    while !body.is_empty() {
        let start = body;
        let item = Header::decode(&mut body).ok()?;
        body = body.get(item.payload_length..)?;
        items.push(&start[..start.len() - body.len()]);
    }
    Some(items)
}

/// `ty` and an RLP list of `items`, with the fee payer slot replaced.
fn join_list(ty: u8, items: &[&[u8]], fee_payer_slot: &[u8]) -> Vec<u8> {
    let item = |i: usize| {
        if i == FEE_PAYER_SLOT {
            fee_payer_slot
        } else {
            items[i]
        }
    };
    let payload_length = (0..items.len()).map(|i| item(i).len()).sum();
    let mut out = Vec::with_capacity(payload_length + 10);
    out.push(ty);
    Header {
        list: true,
        payload_length,
    }
    .encode(&mut out);
    for i in 0..items.len() {
        out.extend_from_slice(item(i));
    }
    out
}

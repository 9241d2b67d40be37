//! Embedding the delegation rules in memory: register delegations, each on
//! the documents D11 asks for, hit the cap of D2, see it waived for a tutor
//! (D3), revoke (D8), register again.
//!
//! Run with `cargo run --example embed_rules`.

use chrono::{Duration, TimeZone, Utc};
use deleghe::adapters::{Actor, Deleghe, Metadata, SettableClock};
use deleghe::domain::delegation::{
    Channel, DelegationId, Evidence, EvidenceDocument, GrantorCommand, RequestDelegation,
    RevocationChannel, Role,
};
use deleghe::domain::document::{blank_pdf, DocumentKind, PdfDocument};
use deleghe::domain::{FiscalCode, Policy};

/// D11: the evidence of a registration. Each document passes M6's checks
/// (a PDF of at most 3 MiB); the embedder stores its bytes (the adapters'
/// document store does) and the events keep its kind and digest. Blank PDFs
/// stand in for the scans here.
fn evidence(kinds: &[DocumentKind]) -> Result<Evidence, Box<dyn std::error::Error>> {
    let mut documents = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let scan = blank_pdf(1_000 + i).ok_or("no blank PDF")?;
        let checked = PdfDocument::parse(&scan, Policy::default().max_document_bytes)?;
        documents.push(EvidenceDocument::of(*kind, &checked));
    }
    Ok(Evidence::new(documents))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The rules take time as an argument; the clock stamps the steps the
    // library takes itself. Fixed here so that the output is always the same.
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let clock = SettableClock::fixed(now);
    let rules = Deleghe::in_memory(Policy::default()).with_clock(clock.as_clock());

    let delegate = FiscalCode::parse("VRDLGU70A01H501O")?;
    let grantors = [
        "RSSMRA85T10A562S",
        "BNCGNN80A41F205A",
        "NREFNC62B15L219M",
        "GLLPLA90C22G273D",
    ]
    .map(|cf| FiscalCode::parse(cf).unwrap());

    println!(
        "Policy: at most {} ordinary delegations per delegate.\n",
        rules.policy().max_ordinary_delegations_per_delegate
    );

    for (n, grantor) in grantors.iter().enumerate() {
        let request = RequestDelegation {
            id: DelegationId::parse(&format!("online-{n}"))?,
            grantor: grantor.clone(),
            delegate: delegate.clone(),
            role: Role::Ordinary,
            channel: Channel::Online,
            ends_on: None,
            meeting: None,
            // Online, a copy of the grantor's identity document.
            evidence: evidence(&[DocumentKind::IdentityDocument])?,
            at: now,
        };
        let meta = Metadata::new(Actor::Citizen(grantor.clone()), "web");
        match rules.register_delegation(request, &meta).await {
            Ok(d) => println!(
                "{grantor} -> {delegate}: registered online, {}",
                d.status(now).as_str()
            ),
            Err(e) => println!("{grantor} -> {delegate}: refused, {} ({e})", e.code()),
        }
    }

    // D3: the cap does not apply to a tutor, registered at a counter (D5)
    // and waiting for the authority's confirmation (D6).
    let ward = FiscalCode::parse("FRRLRA75D55A944I")?;
    let operator = Metadata::new(Actor::Operator("op-napoli-01".into()), "counter");
    let tutor = rules
        .register_delegation(
            RequestDelegation {
                id: DelegationId::parse("counter-tutor")?,
                grantor: ward.clone(),
                delegate: delegate.clone(),
                role: Role::Tutor,
                channel: Channel::Counter,
                ends_on: None,
                meeting: None,
                // At a counter, a legal representative's form AA10 and the ID.
                evidence: evidence(&[DocumentKind::Aa10, DocumentKind::IdentityDocument])?,
                at: now,
            },
            &operator,
        )
        .await?;
    println!(
        "\n{ward} -> {delegate} as tutor at a counter: {}",
        tutor.status(now).as_str()
    );
    let tutor = rules
        .delegation_command(
            &ward,
            GrantorCommand::Confirm {
                id: tutor.id.clone(),
                at: now,
            },
            &operator,
        )
        .await?;
    println!("confirmed by the operator: {}", tutor.status(now).as_str());
    println!(
        "the delegate now holds {} ordinary seats and {} in all",
        rules.delegate(&delegate).await?.ordinary_seats(now),
        rules.delegate(&delegate).await?.seats().len()
    );

    // D8: online revocation only after 30 days; at a counter at any time.
    let first = &grantors[0];
    let id = DelegationId::parse("online-0")?;
    let citizen = Metadata::new(Actor::Citizen(first.clone()), "web");
    let tomorrow = now + Duration::days(1);
    clock.set(Some(tomorrow));
    match rules
        .revoke_delegation(first, &id, RevocationChannel::Online, tomorrow, &citizen)
        .await
    {
        Ok(_) => println!("\nrevoked online the next day"),
        Err(e) => println!(
            "\n{first} revokes online the next day: refused, {} ({e})",
            e.code()
        ),
    }
    let revoked = rules
        .revoke_delegation(first, &id, RevocationChannel::Counter, tomorrow, &operator)
        .await?;
    println!(
        "{first} revokes at a counter: {}",
        revoked.status(tomorrow).as_str()
    );

    // The seat is free again: the fourth grantor can now register.
    let fourth = &grantors[3];
    let again = rules
        .register_delegation(
            RequestDelegation {
                id: DelegationId::parse("online-4-again")?,
                grantor: fourth.clone(),
                delegate: delegate.clone(),
                role: Role::Ordinary,
                channel: Channel::Online,
                ends_on: None,
                meeting: None,
                evidence: evidence(&[DocumentKind::IdentityDocument])?,
                at: tomorrow,
            },
            &Metadata::new(Actor::Citizen(fourth.clone()), "web"),
        )
        .await?;
    println!(
        "{fourth} -> {delegate} again: {}",
        again.status(tomorrow).as_str()
    );
    Ok(())
}

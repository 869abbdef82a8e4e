//! A software passkey for tests: real WebAuthn ceremonies without a browser.
//!
//! Wraps webauthn-authenticator-rs's `SoftPasskey`, which makes real credentials and real
//! signatures. It is shared by the tests of this crate and of the HTTP adapter, so that
//! every layer is tested against the same authenticator.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator as _;
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, RequestChallengeResponse, WebauthnCError,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// A browser with a passkey provider, played by `SoftPasskey`.
///
/// `SoftPasskey` is a U2F-style soft token: it refuses `requireResidentKey`, finds keys
/// only through `allowCredentials`, and returns no user handle. The browser and platform
/// authenticator it stands in for keep a discoverable credential instead, so this device
/// keeps the resident part itself — the relying-party id and the user handle of each
/// credential it made — and, for a request without `allowCredentials`, picks its
/// credential for the relying party and returns its user handle, as a platform
/// authenticator does. The user handle is not signed, and nothing else is changed: the
/// challenge, origin, relying-party hash, flags, counter and signature are the soft
/// token's own.
pub struct SoftDevice {
    authenticator: SoftPasskey,
    origin: url::Url,
    resident: Vec<Resident>,
}

struct Resident {
    credential_id: String,
    rp_id: String,
    user_handle: String,
}

impl SoftDevice {
    /// A device on a page of `origin` (what the browser reports in `clientDataJSON`).
    ///
    /// # Panics
    ///
    /// When `origin` is not a URL: a test's own constant.
    pub fn at(origin: &str) -> Self {
        Self {
            // `true`: the soft token claims user verification, as a platform authenticator
            // with a PIN or biometrics does.
            authenticator: SoftPasskey::new(true),
            origin: origin.parse().expect("origin"),
            resident: Vec::new(),
        }
    }

    /// Moves the device to a page of another origin, as a phishing page would ask it.
    ///
    /// # Panics
    ///
    /// When `origin` is not a URL: a test's own constant.
    pub fn move_to(&mut self, origin: &str) {
        self.origin = origin.parse().expect("an origin URL");
    }

    /// The user handle of the newest credential registered on this device, as the
    /// relying party gave it (base64url), for tests that swap it.
    pub fn last_user_handle(&self) -> Option<&str> {
        self.resident.last().map(|r| r.user_handle.as_str())
    }

    /// Registers a new credential for creation `options` (a `CreationChallengeResponse`
    /// as JSON) and returns the `RegisterPublicKeyCredential` as JSON.
    ///
    /// # Errors
    ///
    /// The soft token's refusal, such as a relying party that does not match the origin.
    pub fn register(&mut self, options: &Value) -> Result<Value, WebauthnCError> {
        let mut options = options.clone();
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = false.into();
        let user_handle = options["publicKey"]["user"]["id"]
            .as_str()
            .expect("a user handle")
            .to_owned();
        let rp_id = options["publicKey"]["rp"]["id"]
            .as_str()
            .expect("a relying-party id")
            .to_owned();
        let request: CreationChallengeResponse =
            serde_json::from_value(options).expect("creation options parse");
        let credential = self
            .authenticator
            .do_registration(self.origin.clone(), request)?;
        let credential = serde_json::to_value(&credential).expect("serialise");
        self.resident.push(Resident {
            credential_id: credential["rawId"].as_str().expect("rawId").to_owned(),
            rp_id,
            user_handle,
        });
        Ok(credential)
    }

    /// Answers request `options` (a `RequestChallengeResponse` as JSON) with a
    /// `PublicKeyCredential` as JSON; an empty `allowCredentials` is answered with the
    /// newest credential of the relying party, as a platform authenticator would.
    ///
    /// Every signature raises the device's signature counter by one, as a real
    /// authenticator does. So signing the same `options` twice gives two valid answers to
    /// the same challenge, the second with the next counter: the replay a captured
    /// ceremony allows, which the relying party's counter check cannot refuse (the
    /// counter went up), so only the single use of the ceremony can.
    /// [`signature_counter`] reads the counter an answer carries.
    ///
    /// # Errors
    ///
    /// The soft token's refusal, or no credential for the relying party.
    pub fn sign(&mut self, options: &Value) -> Result<Value, WebauthnCError> {
        let mut options = options.clone();
        let discoverable = options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty);
        let mut user_handle = None;
        if discoverable {
            let rp_id = options["publicKey"]["rpId"].as_str().expect("rpId");
            let resident = self
                .resident
                .iter()
                .rev()
                .find(|r| r.rp_id == rp_id)
                .ok_or(WebauthnCError::NoSelectedToken)?;
            options["publicKey"]["allowCredentials"] =
                json!([{ "type": "public-key", "id": resident.credential_id }]);
            user_handle = Some(resident.user_handle.clone());
        }
        let request: RequestChallengeResponse =
            serde_json::from_value(options).expect("request options parse");
        let assertion = self
            .authenticator
            .do_authentication(self.origin.clone(), request)?;
        let mut assertion = serde_json::to_value(&assertion).expect("serialise");
        if let Some(handle) = user_handle {
            assertion["response"]["userHandle"] = handle.into();
        }
        Ok(assertion)
    }
}

/// The signature counter an assertion made by [`SoftDevice::sign`] carries: bytes 33 to 36
/// of its authenticator data (WebAuthn §6.1), big-endian.
///
/// # Panics
///
/// When `assertion` is not a `PublicKeyCredential` with authenticator data: a test's own
/// value.
pub fn signature_counter(assertion: &Value) -> u32 {
    let data = assertion["response"]["authenticatorData"]
        .as_str()
        .expect("an assertion with authenticator data");
    let data = URL_SAFE_NO_PAD
        .decode(data.trim_end_matches('='))
        .expect("authenticator data in base64url");
    let counter: [u8; 4] = data
        .get(33..37)
        .and_then(|c| c.try_into().ok())
        .expect("authenticator data holds a counter");
    u32::from_be_bytes(counter)
}

impl std::fmt::Debug for SoftDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftDevice")
            .field("origin", &self.origin.as_str())
            .field("credentials", &self.resident.len())
            .finish()
    }
}

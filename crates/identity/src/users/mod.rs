//! [`Users`]: the tenant's users — the operations behind `/cis/v1/users` (each taking a
//! `users:read` or `users:write` [`Permit`]), and the lookups, password checks and address
//! verification the authentication components use.
//!
//! Invariants:
//! - Email, phone number and username are unique when present (the store enforces it on
//!   their normalised forms, `fields.rs`); a user has at least one of them.
//! - Changing an address resets its `*_verified` flag unless the same request sets it.
//! - Passwords are Argon2id hashes (`passwords.rs`); no answer ever holds one.
//! - Every write drops the user from this node's live checks at once (other nodes follow
//!   the `User` change row).
//! - Users are tenant-wide for reads; a user is a member of the applications that created or
//!   linked them (`user_apps`, created with the user in one transaction). Membership gates
//!   nothing else yet.
//! - The password policy is that of the caller's application's login preferences.

mod fields;
mod identifier;
mod search;

use std::sync::Arc;

use serde_json::Value;
use zeroize::Zeroizing;

pub use fields::{
    normalize_email, normalize_phone, normalize_username, password_problems, user_json,
};
pub use identifier::{Identifier, IdentifierType};
pub use search::parse_search;

use crate::caller::{perm, Admin, Permit, UserCaller};
use crate::claims::standard_claims;
use crate::clock::Clock;
use crate::error::{Code, Error, StoreError};
use crate::live::LiveChecks;
use crate::model::{
    email_norm, username_norm, ClientRecord, User, UserCondition, UserField, UserFilter,
    UserLookup, UserMatch, UserPage, UserSort,
};
use crate::passwords::Passwords;
use crate::ports::UserStore;
use crate::preferences::Preferences;
use crate::util::{new_id, plausible_id, plausible_key};

use fields::{
    apply_fields, check_new_password, input_json, invalid, parse_fields, require_identifier,
    take_password,
};

/// Default and largest page size of a user search (the platform's `page_limit` maximum).
pub const DEFAULT_PAGE: u32 = 100;
pub const MAX_PAGE: u32 = 5000;

/// Fields of the public representation that a PATCH may not change.
const READ_ONLY_FIELDS: [&str; 3] = ["user_id", "created_at", "updated_at"];

/// `POST`/`PUT /cis/v1/users/{user_id}/password` (the platform's `ApiAddPassword` and
/// `ApiUpdatePassword`). No `Debug`: it holds the password.
pub struct PasswordSet {
    pub password: Zeroizing<String>,
    /// Temporary: the next login must replace it (the platform's default is `true`).
    pub force_replace: bool,
    /// `POST` only: the username the user will log in with.
    pub username: Option<String>,
    /// `false` skips the policy (`password.min_length`); the 1024-byte bound stays.
    pub enforce_complexity: bool,
}

/// The search parameters of `GET /cis/v1/users`.
#[derive(Debug, Clone, Default)]
pub struct UserSearch {
    pub email: Option<String>,
    pub phone_number: Option<String>,
    /// The platform's SCIM-like filter (`search.rs`).
    pub search: Option<String>,
    /// `search_prefix`: the start of the primary email or phone number.
    pub search_prefix: Option<String>,
    /// `sort_field`: `created_at` (default), `email`, `phone_number`.
    pub sort_field: Option<String>,
    /// `sort_order`: `asc` (default) or `desc`.
    pub sort_order: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// The order a `sort_field` names.
fn sort_of(field: Option<&str>) -> Result<UserSort, Error> {
    match field {
        None | Some("created_at") => Ok(UserSort::CreatedAt),
        Some("email") => Ok(UserSort::Email),
        Some("phone_number") => Ok(UserSort::PhoneNumber),
        Some(f @ ("last_auth" | "organization_added_at")) => Err(invalid(format!(
            "`sort_field` `{f}` is not supported (Tessera does not record it); use \
             `created_at`, `email` or `phone_number`"
        ))),
        Some(other) => Err(invalid(format!(
            "`sort_field` must be `created_at`, `email` or `phone_number`, got `{}`",
            crate::util::field_label(other)
        ))),
    }
}

/// Whether a `sort_order` is descending.
fn descending(order: Option<&str>) -> Result<bool, Error> {
    match order {
        None | Some("asc") => Ok(false),
        Some("desc") => Ok(true),
        Some(_) => Err(invalid("`sort_order` must be `asc` or `desc`")),
    }
}

fn user_not_found() -> Error {
    Code::UserNotFound.into()
}

/// 409 `user_already_exists`, with the platform's `ts_error_code` member.
fn already_exists(message: String) -> Error {
    Error::new(Code::UserAlreadyExists, message).with(
        "ts_error_code",
        Value::String(Code::UserAlreadyExists.name().to_string()),
    )
}

/// A store error of a user write, in the API's terms.
fn user_store_error(e: StoreError) -> Error {
    match e {
        StoreError::NotFound => user_not_found(),
        StoreError::Conflict(field) => {
            already_exists(format!("a user with this {field} already exists"))
        }
        other => Error::from(other),
    }
}

/// The users component.
pub struct Users {
    store: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    passwords: Arc<Passwords>,
    prefs: Arc<Preferences>,
    live: Arc<LiveChecks>,
}

impl Users {
    pub fn new(
        store: Arc<dyn UserStore>,
        clock: Arc<dyn Clock>,
        passwords: Arc<Passwords>,
        prefs: Arc<Preferences>,
        live: Arc<LiveChecks>,
    ) -> Self {
        Self {
            store,
            clock,
            passwords,
            prefs,
            live,
        }
    }

    /// The shortest new password the login preferences of the caller's application accept
    /// (`password.min_length`).
    fn password_min_length(&self, client: &ClientRecord) -> usize {
        let prefs = self.prefs.for_app(&client.app.app_id);
        usize::try_from(prefs.password.min_length).unwrap_or(usize::MAX)
    }

    /// Creates a user from a request body (`credentials: {password, force_replace}` or
    /// `password` sets a password), a member of the caller's application.
    ///
    /// As on the platform, a user who already exists in the tenant (an identifier of the
    /// body — email, phone number, username, external_user_id — is theirs) but is not a
    /// member of the caller's application is added to it and answered as stored, nothing
    /// else changed; a member already is 409 `user_already_exists`. The existing user is
    /// answered only to a caller that may also read users (else 409).
    pub async fn create(
        &self,
        permit: &Permit<perm::UsersWrite>,
        body: Value,
    ) -> Result<User, Error> {
        let Value::Object(mut obj) = body else {
            return Err(invalid("the body must be a JSON object"));
        };
        let password = take_password(&mut obj, self.password_min_length(permit.client()))?;
        let f = parse_fields(&obj)?;
        let now_ms = self.clock.now_ms();
        let mut user = User::new(new_id()?, self.clock.now_s());
        let email_verified = f.email.is_some() && f.email_verified.unwrap_or(false);
        let phone_verified = f.phone_number.is_some() && f.phone_number_verified.unwrap_or(false);
        apply_fields(&mut user, f);
        user.email_verified = email_verified;
        user.email_verified_at = email_verified.then_some(now_ms);
        user.phone_number_verified = phone_verified;
        user.phone_number_verified_at = phone_verified.then_some(now_ms);
        require_identifier(&user)?;
        if let Some(p) = password {
            user.password_hash = Some(self.passwords.hash(p.password).await?);
            user.password_force_replace = p.force_replace;
            user.password_updated_at = Some(now_ms);
        }
        let app_id = &permit.client().app.app_id;
        match self
            .store
            .create_user_in_app(&user, app_id, self.clock.now_s())
            .await
        {
            Ok(()) => Ok(user),
            Err(StoreError::Conflict(field)) => self.link_existing(permit, &user, &field).await,
            Err(StoreError::NotFound) => Err(Error::new(
                Code::NotFound,
                "the caller's application no longer exists",
            )),
            Err(e) => Err(user_store_error(e)),
        }
    }

    /// After a create conflicted on `field`: the existing user the body names, added to the
    /// caller's application if not a member yet.
    async fn link_existing(
        &self,
        permit: &Permit<perm::UsersWrite>,
        new: &User,
        field: &str,
    ) -> Result<User, Error> {
        let taken = || already_exists(format!("a user with this {field} already exists"));
        if permit.also::<perm::UsersRead>().is_err() {
            return Err(taken());
        }
        let mut lookups = Vec::new();
        if let Some(e) = new.email_norm() {
            lookups.push(("email", UserLookup::EmailNorm(e)));
        }
        if let Some(p) = &new.phone_number {
            lookups.push(("phone_number", UserLookup::Phone(p.clone())));
        }
        if let Some(u) = new.username_norm() {
            lookups.push(("username", UserLookup::UsernameNorm(u)));
        }
        if let Some(x) = &new.external_user_id {
            lookups.push(("external_user_id", UserLookup::ExternalUserId(x.clone())));
        }
        // Every identifier of the body that someone holds must be the same user's.
        let mut existing: Option<User> = None;
        for (name, lookup) in &lookups {
            let Some(found) = self.find(lookup).await? else {
                continue;
            };
            match &existing {
                Some(u) if u.user_id != found.user_id => {
                    return Err(already_exists(format!(
                        "the identifiers of the body belong to different users (`{name}` is \
                         another user's)"
                    )))
                }
                Some(_) => {}
                None => existing = Some(found),
            }
        }
        let Some(user) = existing else {
            return Err(taken());
        };
        let app_id = &permit.client().app.app_id;
        match self
            .store
            .add_user_app(&user.user_id, app_id, self.clock.now_s())
            .await
        {
            Ok(true) => Ok(user),
            Ok(false) => Err(already_exists(format!(
                "a user with this {field} already exists in this application"
            ))),
            Err(StoreError::NotFound) => Err(taken()),
            Err(e) => Err(e.into()),
        }
    }

    /// `DELETE /cis/v1/users/{user_id}/apps`: removes the user from the caller's
    /// application (the user stays in the tenant). 404 if the user does not exist or is not
    /// a member.
    pub async fn remove_from_app(
        &self,
        permit: &Permit<perm::UsersWrite>,
        user_id: &str,
    ) -> Result<(), Error> {
        if !plausible_key(user_id) {
            return Err(user_not_found());
        }
        let app_id = &permit.client().app.app_id;
        if self.store.remove_user_app(user_id, app_id).await? {
            return Ok(());
        }
        if self.by_id(user_id).await?.is_none() {
            return Err(user_not_found());
        }
        Err(Error::new(
            Code::UserNotFound,
            "the user is not a member of the caller's application",
        ))
    }

    pub async fn get(
        &self,
        _permit: &Permit<perm::UsersRead>,
        user_id: &str,
    ) -> Result<User, Error> {
        self.by_id(user_id).await?.ok_or_else(user_not_found)
    }

    /// The user with this username (compared case-insensitively after NFC).
    pub async fn get_by_username(
        &self,
        _permit: &Permit<perm::UsersRead>,
        username: &str,
    ) -> Result<User, Error> {
        if !plausible_key(username) {
            return Err(user_not_found());
        }
        self.find(&UserLookup::UsernameNorm(username_norm(username)))
            .await?
            .ok_or_else(user_not_found)
    }

    /// The user whose primary email this is (compared case-insensitively, trimmed).
    pub async fn get_by_email(
        &self,
        _permit: &Permit<perm::UsersRead>,
        email: &str,
    ) -> Result<User, Error> {
        self.find(&UserLookup::EmailNorm(email_norm(email)))
            .await?
            .ok_or_else(user_not_found)
    }

    /// The user whose primary phone number this is (any format that normalises to the same
    /// E.164 number; a value that is no phone number finds nobody).
    pub async fn get_by_phone_number(
        &self,
        _permit: &Permit<perm::UsersRead>,
        phone_number: &str,
    ) -> Result<User, Error> {
        let Ok(phone) = normalize_phone(phone_number) else {
            return Err(user_not_found());
        };
        self.find(&UserLookup::Phone(phone))
            .await?
            .ok_or_else(user_not_found)
    }

    /// The user whose `external_user_id` (the platform's unique tenant-level identifier in
    /// the customer's system) this is, compared exactly.
    pub async fn get_by_external_user_id(
        &self,
        _permit: &Permit<perm::UsersRead>,
        external_user_id: &str,
    ) -> Result<User, Error> {
        self.find(&UserLookup::ExternalUserId(external_user_id.to_string()))
            .await?
            .ok_or_else(user_not_found)
    }

    /// Users matching the platform's `search` filter, `search_prefix` (the start of the
    /// primary email, case-insensitive, or phone number) and the given email
    /// (case-insensitive) and phone number (any format that normalises to the same E.164),
    /// sorted by `sort_field`/`sort_order` and then `user_id`, a page at a time.
    pub async fn search(
        &self,
        _permit: &Permit<perm::UsersRead>,
        search: UserSearch,
    ) -> Result<UserPage, Error> {
        let limit = search.limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(invalid(format!(
                "`page_limit` must be between 1 and {MAX_PAGE}"
            )));
        }
        if search
            .email
            .as_deref()
            .is_some_and(|e| e.len() > 1024 || e.chars().any(char::is_control))
        {
            return Err(Error::new(
                Code::InvalidEmail,
                "`email` contains control characters or is too long",
            ));
        }
        let phone_number = match search.phone_number.as_deref() {
            Some(p) => Some(normalize_phone(p)?),
            None => None,
        };
        let mut conditions = match search.search.as_deref() {
            Some(text) => parse_search(text)?,
            None => Vec::new(),
        };
        if let Some(email) = search.email.as_deref() {
            conditions.push(UserCondition {
                field: UserField::EmailNorm,
                how: UserMatch::Equals,
                value: email_norm(email),
            });
        }
        if let Some(phone) = phone_number {
            conditions.push(UserCondition {
                field: UserField::Phone,
                how: UserMatch::Equals,
                value: phone,
            });
        }
        let prefix = match search.search_prefix.as_deref().map(str::trim) {
            None => None,
            Some(p) if p.is_empty() || p.len() > 1024 || p.chars().any(char::is_control) => {
                return Err(invalid(
                    "`search_prefix` must be 1 to 1024 bytes without control characters",
                ))
            }
            Some(p) => Some(email_norm(p)),
        };
        let filter = UserFilter {
            conditions,
            prefix,
            sort: sort_of(search.sort_field.as_deref())?,
            descending: descending(search.sort_order.as_deref())?,
            limit,
            offset: search.offset.unwrap_or(0),
        };
        Ok(self.store.list_users(&filter).await?)
    }

    /// Updates a user as the hosted platform does (`PUT`; `PATCH` is the same): each field
    /// given replaces the stored one whole (`name` and `address` too), `null` removes it,
    /// and `custom_data`/`custom_app_data` are merged one level deep (a `null` member
    /// removes that member); `password` or `credentials` set a new password.
    pub async fn patch(
        &self,
        permit: &Permit<perm::UsersWrite>,
        user_id: &str,
        patch: Value,
    ) -> Result<User, Error> {
        let Value::Object(mut patch_obj) = patch else {
            return Err(invalid("the body must be a JSON object"));
        };
        let old = self.by_id(user_id).await?.ok_or_else(user_not_found)?;
        let password = take_password(&mut patch_obj, self.password_min_length(permit.client()))?;
        let public = user_json(&old);
        for field in READ_ONLY_FIELDS {
            if let Some(v) = patch_obj.remove(field) {
                if public.get(field) != Some(&v) {
                    return Err(invalid(format!("`{field}` cannot be changed")));
                }
            }
        }
        let sets_email_verified = patch_obj.contains_key("email_verified")
            || patch_obj
                .get("email")
                .is_some_and(|e| e.get("email_verified").is_some());
        let sets_phone_verified = patch_obj.contains_key("phone_number_verified")
            || patch_obj
                .get("phone_number")
                .is_some_and(|p| p.get("phone_number_verified").is_some());
        let mut merged = input_json(&old);
        // A flag given inside the address object replaces the stored top-level one.
        for (address, flag) in [
            ("email", "email_verified"),
            ("phone_number", "phone_number_verified"),
        ] {
            let inside = patch_obj
                .get(address)
                .is_some_and(|a| a.get(flag).is_some());
            if inside && !patch_obj.contains_key(flag) {
                merged.remove(flag);
            }
        }
        for (key, value) in patch_obj {
            let shallow = matches!(key.as_str(), "custom_data" | "custom_app_data");
            match value {
                Value::Object(members) if shallow => {
                    let current = merged
                        .entry(key)
                        .or_insert_with(|| Value::Object(serde_json::Map::new()));
                    if let Value::Object(current) = current {
                        for (k, v) in members {
                            if v.is_null() {
                                current.remove(&k);
                            } else {
                                current.insert(k, v);
                            }
                        }
                    }
                }
                Value::Null => {
                    merged.remove(&key);
                }
                value => {
                    merged.insert(key, value);
                }
            }
        }
        let f = parse_fields(&merged)?;
        let now_ms = self.clock.now_ms();
        let mut user = old.clone();
        user.email_verified = f.email_verified.unwrap_or(false);
        user.phone_number_verified = f.phone_number_verified.unwrap_or(false);
        apply_fields(&mut user, f);
        user.updated_at = self.clock.now_s();
        // A changed address is unverified unless this request says otherwise.
        if user.email_norm() != old.email_norm() && !sets_email_verified {
            user.email_verified = false;
        }
        if user.email.is_none() {
            user.email_verified = false;
        }
        if user.phone_number != old.phone_number && !sets_phone_verified {
            user.phone_number_verified = false;
        }
        if user.phone_number.is_none() {
            user.phone_number_verified = false;
        }
        let email_same = user.email_norm() == old.email_norm();
        user.email_verified_at = match (user.email_verified, email_same && old.email_verified) {
            (false, _) => None,
            (true, true) => old.email_verified_at,
            (true, false) => Some(now_ms),
        };
        let phone_same = user.phone_number == old.phone_number;
        user.phone_number_verified_at = match (
            user.phone_number_verified,
            phone_same && old.phone_number_verified,
        ) {
            (false, _) => None,
            (true, true) => old.phone_number_verified_at,
            (true, false) => Some(now_ms),
        };
        if user.status != old.status {
            user.status_changed_at = Some(now_ms);
        }
        require_identifier(&user)?;
        if let Some(p) = password {
            user.password_hash = Some(self.passwords.hash(p.password).await?);
            user.password_force_replace = p.force_replace;
            user.password_updated_at = Some(now_ms);
        }
        self.store
            .update_user(&user)
            .await
            .map_err(user_store_error)?;
        self.live.forget_user(&user.user_id);
        Ok(user)
    }

    pub async fn delete(
        &self,
        _permit: &Permit<perm::UsersWrite>,
        user_id: &str,
    ) -> Result<(), Error> {
        self.delete_user(user_id).await
    }

    /// `DELETE /cis/v1/manage/users/{user_id}` (admins): the same as [`Users::delete`] —
    /// the user and all their data (sessions, refresh tokens, codes, CIBA requests,
    /// memberships, failure counters).
    pub async fn delete_from_tenant(&self, _admin: &Admin, user_id: &str) -> Result<(), Error> {
        self.delete_user(user_id).await
    }

    async fn delete_user(&self, user_id: &str) -> Result<(), Error> {
        if !plausible_key(user_id) {
            return Err(user_not_found());
        }
        self.store
            .delete_user(user_id)
            .await
            .map_err(user_store_error)?;
        self.live.forget_user(user_id);
        Ok(())
    }

    /// `POST /cis/v1/users/{user_id}/password`: the first password of a user who has none
    /// (409 `auth_password_already_configured` otherwise), with an optional new username.
    pub async fn add_password(
        &self,
        permit: &Permit<perm::UsersWrite>,
        user_id: &str,
        set: PasswordSet,
    ) -> Result<User, Error> {
        let mut user = self.by_id(user_id).await?.ok_or_else(user_not_found)?;
        if user.password_hash.is_some() {
            return Err(Code::AuthPasswordAlreadyConfigured.into());
        }
        if let Some(username) = &set.username {
            user.username = Some(normalize_username(username)?);
        }
        self.store_password(user, set, permit.client()).await
    }

    /// `PUT /cis/v1/users/{user_id}/password`: replaces the password of a user who has one
    /// (409 `auth_password_not_configured` otherwise).
    pub async fn replace_password(
        &self,
        permit: &Permit<perm::UsersWrite>,
        user_id: &str,
        set: PasswordSet,
    ) -> Result<User, Error> {
        let user = self.by_id(user_id).await?.ok_or_else(user_not_found)?;
        if user.password_hash.is_none() {
            return Err(Code::AuthPasswordNotConfigured.into());
        }
        self.store_password(user, set, permit.client()).await
    }

    /// Checks (under the policy of `client`'s application), hashes and stores a new password
    /// of `user`.
    async fn store_password(
        &self,
        mut user: User,
        set: PasswordSet,
        client: &ClientRecord,
    ) -> Result<User, Error> {
        let min_length = if set.enforce_complexity {
            self.password_min_length(client)
        } else {
            0
        };
        check_new_password(&set.password, min_length)?;
        let now_ms = self.clock.now_ms();
        user.password_hash = Some(self.passwords.hash(set.password).await?);
        user.password_force_replace = set.force_replace;
        user.password_updated_at = Some(now_ms);
        user.updated_at = self.clock.now_s();
        self.store
            .update_user(&user)
            .await
            .map_err(user_store_error)?;
        self.live.forget_user(&user.user_id);
        Ok(user)
    }

    /// What is wrong with `password` under the policy of `client`'s application (empty when
    /// it is acceptable).
    pub fn password_problems(
        &self,
        password: &str,
        client: &ClientRecord,
    ) -> Vec<(&'static str, String)> {
        password_problems(password, self.password_min_length(client))
    }

    /// A password reset (`authn/reset.rs`): the user's new, permanent password.
    pub(crate) async fn reset_password(
        &self,
        user: User,
        password: Zeroizing<String>,
        client: &ClientRecord,
    ) -> Result<User, Error> {
        self.store_password(
            user,
            PasswordSet {
                password,
                force_replace: false,
                username: None,
                enforce_complexity: true,
            },
            client,
        )
        .await
    }

    /// The OIDC userinfo response (OIDC Core §5.3) for a live user token: `sub` and the
    /// standard claims of the token's scopes, from the current user record.
    pub async fn userinfo(&self, caller: &UserCaller) -> Result<Value, Error> {
        let user = self
            .by_id(caller.user_id())
            .await?
            .ok_or_else(|| Error::new(Code::InvalidToken, "the token's user no longer exists"))?;
        let scopes = caller.token().scope.as_deref().unwrap_or_default();
        let mut out = standard_claims(&user, scopes.split(' '));
        out.insert("sub".into(), Value::String(user.user_id));
        Ok(Value::Object(out))
    }

    // --- for the authentication components ---

    /// The user with this id, if any.
    pub(crate) async fn by_id(&self, user_id: &str) -> Result<Option<User>, Error> {
        if !plausible_key(user_id) {
            return Ok(None);
        }
        Ok(self.store.get_user(user_id).await?)
    }

    /// The user with this (normalised) address, if any.
    pub(crate) async fn find(&self, lookup: &UserLookup) -> Result<Option<User>, Error> {
        let key = match lookup {
            UserLookup::EmailNorm(k)
            | UserLookup::Phone(k)
            | UserLookup::UsernameNorm(k)
            | UserLookup::ExternalUserId(k) => k,
        };
        if !plausible_key(key) {
            return Ok(None);
        }
        Ok(self.store.get_user_by(lookup).await?)
    }

    /// The user an identifier names. Malformed values are errors when `strict` (sends),
    /// else simply nobody (authenticate calls).
    pub(crate) async fn by_identifier(
        &self,
        id: &Identifier,
        strict: bool,
    ) -> Result<Option<User>, Error> {
        match id.kind {
            IdentifierType::Email => {
                self.find(&UserLookup::EmailNorm(email_norm(&id.value)))
                    .await
            }
            IdentifierType::PhoneNumber => match normalize_phone(&id.value) {
                Ok(p) => self.find(&UserLookup::Phone(p)).await,
                Err(e) if strict => Err(e),
                Err(_) => Ok(None),
            },
            IdentifierType::UserId => {
                if !plausible_id(&id.value) {
                    return Ok(None);
                }
                self.by_id(&id.value).await
            }
            IdentifierType::Username => {
                self.find(&UserLookup::UsernameNorm(username_norm(&id.value)))
                    .await
            }
        }
    }

    /// A journey's `create_user_if_missing`: a new active user with only this username (a
    /// concurrent creation of the same username answers the user that won).
    pub(crate) async fn create_for_journey(&self, username: &str) -> Result<User, Error> {
        let username = normalize_username(username)?;
        let mut user = User::new(new_id()?, self.clock.now_s());
        user.username = Some(username.clone());
        match self.store.create_user(&user).await {
            Ok(()) => Ok(user),
            Err(StoreError::Conflict(_)) => self
                .find(&UserLookup::UsernameNorm(username_norm(&username)))
                .await?
                .ok_or_else(user_not_found),
            Err(e) => Err(user_store_error(e)),
        }
    }

    /// A journey's `create_user` step: a new active user with these identifiers (the same
    /// field rules as the users API), a member of `app_id` when given. A taken identifier is
    /// 409 `user_already_exists` (never the existing user).
    pub(crate) async fn create_from_journey(
        &self,
        app_id: Option<&str>,
        username: Option<&str>,
        email: Option<&str>,
        phone_number: Option<&str>,
    ) -> Result<User, Error> {
        let mut obj = serde_json::Map::new();
        for (name, v) in [
            ("username", username),
            ("email", email),
            ("phone_number", phone_number),
        ] {
            if let Some(v) = v {
                obj.insert(name.into(), Value::String(v.to_string()));
            }
        }
        let f = parse_fields(&obj)?;
        let mut user = User::new(new_id()?, self.clock.now_s());
        apply_fields(&mut user, f);
        require_identifier(&user)?;
        let stored = match app_id {
            Some(app) => {
                self.store
                    .create_user_in_app(&user, app, self.clock.now_s())
                    .await
            }
            None => self.store.create_user(&user).await,
        };
        match stored {
            Ok(()) => Ok(user),
            Err(StoreError::Conflict(field)) => Err(already_exists(format!(
                "a user with this {field} already exists"
            ))),
            Err(e) => Err(user_store_error(e)),
        }
    }

    /// Checks a password. Unknown users (`None`) and users without a password cost the same
    /// Argon2id time and return false.
    pub(crate) async fn verify_password(
        &self,
        user: Option<&User>,
        password: &str,
    ) -> Result<bool, Error> {
        let hash = user.and_then(|u| u.password_hash.as_ref());
        self.passwords
            .verify(hash, Zeroizing::new(password.to_string()))
            .await
    }

    /// Records that `user_id` just completed an authentication; `true` if it is their first
    /// (the `new_user` claim). Users who logged in before Tessera recorded this count from
    /// their sessions still stored at the upgrade (migration 0011).
    pub(crate) async fn record_authentication(&self, user_id: &str) -> Result<bool, Error> {
        Ok(self
            .store
            .record_authentication(user_id, self.clock.now_ms())
            .await?)
    }

    /// Marks `destination` verified on the user if it is still their address of the
    /// channel `phone` says (phone number, else email).
    pub(crate) async fn mark_verified(
        &self,
        user: &mut User,
        phone: bool,
        destination: Option<&str>,
    ) -> Result<(), Error> {
        let Some(dest) = destination else {
            return Ok(());
        };
        let changed = if phone {
            let same = user.phone_number.as_deref() == Some(dest);
            let change = same && !user.phone_number_verified;
            user.phone_number_verified |= same;
            if change {
                user.phone_number_verified_at = Some(self.clock.now_ms());
            }
            change
        } else {
            let same = user.email_norm().as_deref() == Some(email_norm(dest).as_str());
            let change = same && !user.email_verified;
            user.email_verified |= same;
            if change {
                user.email_verified_at = Some(self.clock.now_ms());
            }
            change
        };
        if changed {
            user.updated_at = self.clock.now_s();
            self.store.update_user(user).await?;
            self.live.forget_user(&user.user_id);
        }
        Ok(())
    }
}

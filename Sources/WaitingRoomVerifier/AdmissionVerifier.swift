import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Synchronization
import WaitingRoomTokens

/// Verifies WaitingRoom admission tokens offline, as an order service does on every checkout request.
///
/// Keys come from the gate's JWKS (fetched, refreshed, and refetched on an unknown `kid` at most once per
/// `minimumRefetchInterval`) or from a fixed key set. Tokens already verified are cached by their SHA-256
/// until they expire, so a shopper's repeated requests cost microseconds instead of a signature check.
///
/// ```swift
/// let verifier = AdmissionVerifier(jwksURL: "https://gate.example/.well-known/jwks.json", issuer: "waitroom")
/// let claims = try await verifier.verify(token, room: "sneaker-drop")
/// ```
public final class AdmissionVerifier: Sendable {
    public typealias Fetch = @Sendable () async throws -> JSONWebKeySet

    private struct State {
        var keys = VerificationKeySet([])
        var lastFetch: ContinuousClock.Instant?
        var verified: [[UInt8]: AdmissionClaims] = [:]
        var fetches = 0
        var signatureChecks = 0
        /// The fetch in flight: concurrent requests with an unknown kid wait for it instead of failing.
        var inFlight: Task<Void, any Error>?
    }

    private let state = Mutex(State())
    private let fetch: Fetch?
    private let issuer: String
    private let leeway: TimeInterval
    private let minimumRefetchInterval: Duration
    private let cacheLimit: Int
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - fetch: loads the JWKS (see ``init(jwksURL:issuer:httpClient:leeway:minimumRefetchInterval:)``).
    ///   - now: the clock (injected in tests).
    public init(
        fetch: @escaping Fetch,
        issuer: String,
        leeway: TimeInterval = 5,
        minimumRefetchInterval: Duration = .seconds(30),
        cacheLimit: Int = 100_000,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.fetch = fetch
        self.issuer = issuer
        self.leeway = leeway
        self.minimumRefetchInterval = minimumRefetchInterval
        self.cacheLimit = cacheLimit
        self.now = now
    }

    /// Verifies against a fixed JWKS (a file shipped with the order service); no fetching.
    public init(jwks: JSONWebKeySet, issuer: String, leeway: TimeInterval = 5, cacheLimit: Int = 100_000, now: @escaping @Sendable () -> Date = Date.init) {
        fetch = nil
        self.issuer = issuer
        self.leeway = leeway
        minimumRefetchInterval = .seconds(1)
        self.cacheLimit = cacheLimit
        self.now = now
        state.withLock { $0.keys = VerificationKeySet(jwks: jwks) }
    }

    /// Fetches the JWKS from the gate over HTTP(S).
    public convenience init(
        jwksURL: String,
        issuer: String,
        httpClient: HTTPClient = .shared,
        leeway: TimeInterval = 5,
        minimumRefetchInterval: Duration = .seconds(30)
    ) {
        self.init(
            fetch: {
                let response = try await httpClient.execute(HTTPClientRequest(url: jwksURL), timeout: .seconds(5))
                guard response.status == .ok else { throw VerificationError.keysUnavailable("JWKS answered \(response.status.code)") }
                let body = try await response.body.collect(upTo: 1 << 20)
                return try JSONDecoder().decode(JSONWebKeySet.self, from: Data(buffer: body))
            },
            issuer: issuer, leeway: leeway, minimumRefetchInterval: minimumRefetchInterval
        )
    }

    /// How many times the JWKS has been fetched (for tests and metrics).
    public var fetchCount: Int { state.withLock { $0.fetches } }

    /// How many tokens had their signature checked (a cached token is not checked again).
    public var signatureChecks: Int { state.withLock { $0.signatureChecks } }

    /// Verifies `token`; when `room` is given, the token must be for that room.
    public func verify(_ token: String?, room: String? = nil) async throws(VerificationError) -> AdmissionClaims {
        guard let token, !token.isEmpty else { throw .missing }
        let digest = Digest.sha256(Array(token.utf8))
        let date = now()
        let claims: AdmissionClaims
        if let cached = state.withLock({ $0.verified[digest] }), Double(cached.exp) + leeway > date.timeIntervalSince1970 {
            claims = cached
        } else {
            claims = try await verifySignature(token, at: date)
            state.withLock { state in
                if state.verified.count >= cacheLimit { state.verified.removeAll(keepingCapacity: true) }
                state.verified[digest] = claims
            }
        }
        if let room, claims.aud != room { throw .wrongRoom(claims.aud) }
        return claims
    }

    private func verifySignature(_ token: String, at date: Date) async throws(VerificationError) -> AdmissionClaims {
        let parts: JSONWebToken.Parts
        do { parts = try JSONWebToken.parse(token) } catch { throw .invalid(error) }
        if state.withLock({ $0.keys.key(id: parts.header.kid) }) == nil {
            try await refetchIfAllowed()
        }
        let keys = state.withLock { state in
            state.signatureChecks += 1
            return state.keys
        }
        let claims: AdmissionClaims
        do {
            claims = try keys.verify(token, as: AdmissionClaims.self, now: date, leeway: leeway)
        } catch {
            if error == .expired { throw .expired }
            throw .invalid(error)
        }
        guard claims.iss == issuer else { throw .invalid(.wrongIssuer(claims.iss)) }
        return claims
    }

    /// Loads the JWKS now (start-up, background refresh). Callers that arrive while a fetch is in flight
    /// share it.
    public func refresh() async throws(VerificationError) {
        guard let fetch else { return }
        let task = state.withLock { state -> Task<Void, any Error> in
            if let running = state.inFlight { return running }
            state.lastFetch = .now
            state.fetches += 1
            let task = Task {
                defer { self.state.withLock { $0.inFlight = nil } }
                let jwks = try await fetch()
                self.state.withLock { $0.keys = VerificationKeySet(jwks: jwks) }
            }
            state.inFlight = task
            return task
        }
        do {
            try await task.value
        } catch let error as VerificationError {
            throw error
        } catch {
            throw .keysUnavailable("\(error)")
        }
    }

    /// An unknown `kid` triggers a refetch, but never more than once per interval: a flood of forged kids
    /// cannot turn into a flood of requests to the gate.
    private func refetchIfAllowed() async throws(VerificationError) {
        let (allowed, running) = state.withLock { state in
            (state.lastFetch.map { ContinuousClock.now - $0 >= minimumRefetchInterval } ?? true, state.inFlight)
        }
        if allowed || running != nil { try await refresh() }
    }
}

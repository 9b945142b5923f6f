import Foundation

/// The claims of an admission token: who was admitted to which room, and for how long.
///
/// `aud` is the room, `sub` the shopper (the shop account of a join pass, otherwise the queue ticket's
/// id), `tid` the queue ticket's id (how the gate finds the admission when it is released or consumed),
/// `seq` the shopper's place in the queue.
public struct AdmissionClaims: JWTClaims, Equatable {
    public var iss: String
    public var aud: String
    public var sub: String
    public var jti: String
    public var iat: Int64
    public var nbf: Int64
    public var exp: Int64
    public var seq: Int64
    /// The queue ticket's id (absent from tokens issued before it existed: then `sub` is the ticket id).
    public var tid: String?

    public init(iss: String, aud: String, sub: String, jti: String, iat: Int64, nbf: Int64, exp: Int64, seq: Int64, tid: String? = nil) {
        self.iss = iss
        self.aud = aud
        self.sub = sub
        self.jti = jti
        self.iat = iat
        self.nbf = nbf
        self.exp = exp
        self.seq = seq
        self.tid = tid
    }

    /// The queue ticket this admission was claimed with.
    public var ticketID: String { tid ?? sub }

    /// The room this admission is for.
    public var room: String { aud }

    public func validate(now: Date, leeway: TimeInterval) throws(TokenError) {
        let seconds = now.timeIntervalSince1970
        if Double(exp) + leeway <= seconds { throw .expired }
        if Double(nbf) - leeway > seconds || Double(iat) - leeway > seconds { throw .notYetValid }
    }

    public var expiresAt: Date { Date(timeIntervalSince1970: TimeInterval(exp)) }
}

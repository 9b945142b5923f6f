import Hummingbird

extension Gate {
    /// Which of two presented tickets to use: the cookie, unless it does not open (a junk or stale cookie)
    /// and the bearer differs — then the bearer. Costs one HMAC only when both are present and differ.
    public static func preferValidTicket(cookie: String?, bearer: String?, opens: (String) -> Bool) -> String? {
        guard let cookie, !cookie.isEmpty else { return bearer }
        guard let bearer, bearer != cookie else { return cookie }
        return opens(cookie) || !opens(bearer) ? cookie : bearer
    }
}

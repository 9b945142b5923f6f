import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// The waiting page, `/wait/{room}/{language}`: the shop's page in a language, built ahead of the requests
/// (``WaitPageCache``) — the same bytes for every shopper, `public` for a shared cache, no cookie. Its
/// script joins and polls the public API. `/wait/{room}` answers with the room's own language when it has
/// one, else redirects to the best language of `Accept-Language` (the language lives in the path, so a
/// shared cache needs no `Vary` on the page).
///
/// Without JavaScript (`?js=0`, where the page's noscript refresh leads), the server joins and polls for
/// the shopper through the same API handlers — the same ticket rules and join checks — and renders the
/// answer into the room's prepared template; the page refreshes itself after `pollAfterMs`.
extension PublicRoutes {
    func addPages(to router: Router<BasicRequestContext>) {
        router.get("/wait/:room") { request, context in try await self.waitPage(request, context) }
        router.get("/wait/:room/:lang") { request, context in try await self.waitPage(request, context) }
        // "Join the line again" without JavaScript: a new place at the back, then the page.
        router.post("/wait/:room") { request, context in try await self.joinAgainForm(request, context) }
        router.post("/wait/:room/:lang") { request, context in try await self.joinAgainForm(request, context) }
    }

    /// How long a browser keeps `/wait/{room}`'s redirect to its language (private: it follows the
    /// shopper's `Accept-Language`).
    static let languageRedirectMaxAge = 300

    func waitPage(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        flow.metrics.pageLoads.increment()
        let cache = pages.waitCache
        let pathLanguage = context.parameters.get("lang").map { String($0) }
        let noScript = request.uri.queryParameters.get("js") == "0"
        if let pathLanguage, !PagePresentation.languages.contains(pathLanguage), let name = context.parameters.get("room"), RoomName.isValid(name) {
            // A language the page does not have: the room's own address picks one.
            return Self.redirect(to: "/wait/\(name)", query: request.uri.query, cacheControl: "public, max-age=\(Self.languageRedirectMaxAge)")
        }
        guard let (room, entry) = try? await flow.room(context.parameters.get("room")) else {
            let language = pathLanguage ?? PagePresentation.language(acceptLanguage: request.headers[.acceptLanguage])
            let missing = cache.missing(language)
            var headers = missing.headers
            if pathLanguage == nil {
                // Chosen by the shopper's header: for this browser only.
                headers[.cacheControl] = "private, max-age=\(WaitPageCache.missingMaxAgeSeconds)"
                headers[.vary] = "Accept-Language"
            }
            return Response(status: .notFound, headers: headers, body: .init(byteBuffer: missing.body))
        }
        let settings = entry.snapshot.settings
        let language: String
        if let fixed = settings.language, PagePresentation.languages.contains(fixed) {
            language = fixed
        } else if let pathLanguage {
            language = pathLanguage
        } else if !noScript {
            let chosen = PagePresentation.language(acceptLanguage: request.headers[.acceptLanguage])
            var response = Self.redirect(
                to: WaitPage.path(room: room, language: chosen), query: request.uri.query, cacheControl: "private, max-age=\(Self.languageRedirectMaxAge)"
            )
            response.headers[.vary] = "Accept-Language"
            return response
        } else {
            language = PagePresentation.language(acceptLanguage: request.headers[.acceptLanguage])
        }
        let built = cache.room(room, settings: settings, language: language)
        let pass = request.uri.queryParameters.get("pass").map { String($0) }
        guard noScript else {
            guard let pass else {
                if let tags = request.headers[.ifNoneMatch], tags.contains(built.etag) {
                    return Response(status: .notModified, headers: built.headers)
                }
                return Response(status: .ok, headers: built.headers, body: .init(byteBuffer: built.body))
            }
            // A join pass in the URL travels on to the page without JavaScript: this shopper's own page.
            let html = built.joining.render(["refresh": cache.page.refreshTag(built.brand, seconds: 0, pass: pass, rejoined: "")])
            return Response(status: .ok, headers: built.privateHeaders, body: .init(byteBuffer: ByteBuffer(string: html)))
        }
        return try await noScriptPage(request, context, room: room, entry: entry, built: built, pass: pass)
    }

    /// The page without JavaScript: the join or the poll a script would make, its answer rendered.
    private func noScriptPage(
        _ request: Request, _ context: BasicRequestContext, room: String, entry: RoomCache.Entry, built: WaitPageCache.Room, pass: String?
    ) async throws -> Response {
        let page = pages.wait
        let brand = built.brand
        func respond(_ view: WaitPage.View) -> Response {
            Response(status: .ok, headers: built.privateHeaders, body: .init(byteBuffer: ByteBuffer(string: page.render(built.prepared, brand, view, pass: pass))))
        }
        // Without JavaScript the server joins (or polls) for the shopper through the same flow as the API, and
        // renders its typed answer. A join pass from the shop's link counts as the header the script would send.
        var request = request
        if let pass {
            var head = request.head
            head.headerFields[JoinPassKeys.header] = pass
            request = Request(head: head, body: request.body)
        }
        let presented = flow.tickets.presented(request, room: room)
        let held = presented.flatMap { try? flow.tickets.verified($0, room: room, epoch: entry.snapshot.epoch, nowMs: ShopperFlow.nowMs()) }
        let answer: (reply: ShopperReply, setCookie: String?)?
        do {
            answer = try await noScriptAnswer(request, room: room, presented: held == nil ? nil : presented)
        } catch {
            return respond(page.view(error, brand: brand))
        }
        guard let (reply, setCookie) = answer else {
            // A proof of work is needed, which only the script can solve.
            return respond(page.view(APIError(.preconditionRequired, "error", ""), brand: brand))
        }
        let ticketID = held?.id ?? reply.ticket.flatMap(flow.tickets.parsed)?.id ?? ""
        let queueID = PagePresentation.queueID(ticketID: ticketID)
        var view = page.view(WaitPage.Status(reply), brand: brand, queueID: queueID, now: Date())
        view.againToken = ticketID.isEmpty ? "" : againFormToken(ticketID: ticketID)
        // A new place at the back, said as the script says it: after "join again" (its redirect names the
        // new place), or when the ticket the browser held no longer counts and the page joined afresh.
        let replaced = presented != nil && held == nil && setCookie != nil
        let named = request.uri.queryParameters.get("rejoined").map { String($0) }
        if !queueID.isEmpty, replaced || named == queueID {
            page.sayRejoined(&view, queueID: queueID, language: brand.language)
        }
        var response = respond(view)
        if let setCookie { response.headers[.setCookie] = setCookie }
        return response
    }

    /// Without JavaScript: where the shopper holding `presented` stands, or a join for one who holds no valid
    /// ticket (with the cookie to set); nil when the join needs a proof of work.
    private func noScriptAnswer(_ request: Request, room: String, presented: String?) async throws(APIError) -> (reply: ShopperReply, setCookie: String?)? {
        if let presented { return (try await flow.status(room: room, ticket: presented), nil) }
        switch try await flow.join(request, room: room, .init()) {
        case .challenge:
            return nil
        case .placed(let reply, let ticket, let newTicket):
            return (reply, newTicket ? reply.ticket.map { cookie.header(room: ticket.room, ticket: $0) } : nil)
        }
    }

    /// A redirect that keeps the request's query (a join pass, `js=0`).
    static func redirect(to path: String, query: String?, cacheControl: String) -> Response {
        let location = path + (query.map { $0.isEmpty ? "" : "?" + $0 } ?? "")
        return Response(status: .found, headers: [.location: location, .cacheControl: cacheControl, .contentLength: "0"])
    }

    /// The form behind "Join the line again": only from this site's own page (a forged cross-site post
    /// would cost the shopper their place; see ``JoinAgainFormCheck``), then back to the page with the new
    /// ticket's cookie, and the new place's id so the page says it is a new place at the back.
    func joinAgainForm(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let room = try RequestReader.roomName(context)
        let body = try await reader.body(request)
        let ticketID = flow.tickets.presented(request, room: room).flatMap(flow.tickets.parsed)?.id
        let check = JoinAgainFormCheck(
            secFetchSite: request.headers[.secFetchSite], origin: request.headers[.origin], referer: request.headers[.referer],
            host: request.head.authority, token: JoinAgainFormCheck.formField("token", in: String(buffer: body)),
            expectedToken: ticketID.map(againFormToken)
        )
        guard check.allows else {
            throw APIError(.forbidden, "cross_site", "this form only works from the waiting page")
        }
        let language = context.parameters.get("lang").map { String($0) }.flatMap { PagePresentation.languages.contains($0) ? $0 : nil }
        var location = (language.map { WaitPage.path(room: room, language: $0) } ?? "/wait/\(room)") + "?js=0"
        var headers: HTTPFields = [.cacheControl: "no-store"]
        if request.uri.queryParameters.get("again") == "1" {
            // The API's own "join again": a new place at the back whatever ticket the cookie holds.
            if case .placed(let reply, let ticket, true)? = try? await flow.join(request, room: room, .init(fresh: true)), let text = reply.ticket {
                headers[.setCookie] = cookie.header(room: ticket.room, ticket: text)
                location += "&rejoined=" + PagePresentation.queueID(ticketID: ticket.id)
            }
        }
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    /// The "join again" form's token on a page that holds the ticket: the MAC of the ticket's id under the
    /// ticket secret (a prefix of its own keeps it from passing for any other signed value). A cross-site
    /// page cannot read it, and a cross-site post does not carry the ticket cookie (SameSite=Lax) anyway.
    func againFormToken(ticketID: String) -> String {
        let signed = flow.tickets.signer.sign("join-again-form." + ticketID)
        return String(signed[signed.index(after: signed.lastIndex(of: ".")!)...])
    }
}

extension WaitPage.Status {
    /// What the page shows for a typed answer (the script reads the same fields from the API's JSON).
    init(_ reply: ShopperReply) {
        var status = WaitPage.Status(state: reply.answer.state, stale: reply.stale ? true : nil)
        status.ticket = reply.ticket
        switch reply.answer {
        case .waiting(let position, let eta, let onHold, let poll):
            (status.position, status.onHold, status.pollAfterMs) = (position, onHold, poll)
            status.etaSeconds = eta.map { ETA(low: $0.low, high: $0.high) }
        case .paused(let position, let poll):
            (status.position, status.onHold, status.pollAfterMs) = (position, true, poll)
        case .scheduled(let opensIn, let poll):
            (status.opensInSeconds, status.pollAfterMs) = (opensIn, poll)
        case .entering(let eta, let poll, _):  // no script to wait for the moment: the page asks again then
            (status.position, status.pollAfterMs) = (0, poll)
            status.etaSeconds = ETA(low: eta.low, high: eta.high)
        case .admitted(let token, let checkoutUrl, _):
            (status.position, status.token, status.checkoutUrl, status.pollAfterMs) = (0, token, checkoutUrl, 0)
        case .closed, .done, .expired:
            status.pollAfterMs = 0
        }
        self = status
    }
}

/// Whether a "join again" form post comes from the waiting page itself. The browser's word wins when it
/// gives one (`Sec-Fetch-Site`, which no page can set); otherwise the form's token tied to the shopper's
/// ticket, or an `Origin` (else a `Referer`) naming this host. The page is served with `no-referrer`, so
/// its own posts carry `Origin: null` and no `Referer`: a browser without `Sec-Fetch-Site` gets in by
/// the token, and `null` alone is never enough.
struct JoinAgainFormCheck {
    var secFetchSite: String?
    var origin: String?
    var referer: String?
    /// The request's `Host`.
    var host: String?
    var token: String?
    /// The token of the ticket the request carries (nil without one).
    var expectedToken: String?

    var allows: Bool {
        if let site = secFetchSite { return site == "same-origin" || site == "none" }
        if let token, let expectedToken, SecretComparison.equals(token, expectedToken) { return true }
        if let origin { return origin != "null" && Self.sameHost(origin, host) }
        if let referer { return Self.sameHost(referer, host) }
        return false
    }

    /// Whether an absolute URL's authority (host and port) is the request's `Host`.
    static func sameHost(_ url: String, _ host: String?) -> Bool {
        guard let host, !host.isEmpty, let components = URLComponents(string: url), let urlHost = components.host, !urlHost.isEmpty,
            components.user == nil, components.password == nil
        else { return false }
        let authority = urlHost + (components.port.map { ":\($0)" } ?? "")
        return authority.lowercased() == host.lowercased()
    }

    /// One field of an `application/x-www-form-urlencoded` body.
    static func formField(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }
}

extension HTTPField.Name {
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
}

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WaitingRoomCore
import WaitingRoomTokens

/// The waiting page, `/wait/{room}`: the shop's page in the shopper's language. With JavaScript, the page's
/// script joins and polls the public API. Without it (`?js=0`, where the page's noscript refresh leads),
/// the server joins and polls for the shopper through the same API handlers — the same ticket rules and
/// join checks — and renders the answer; the page refreshes itself after `pollAfterMs`.
extension PublicRoutes {
    func addPages(to router: Router<BasicRequestContext>) {
        router.get("/wait/:room") { request, context in try await self.waitPage(request, context) }
        // "Join the line again" without JavaScript: a new place at the back, then the page.
        router.post("/wait/:room") { request, context in try await self.joinAgainForm(request, context) }
    }

    func waitPage(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        flow.metrics.pageLoads.increment()
        let accepted = request.headers[.acceptLanguage]
        guard let (room, entry) = try? await flow.room(context.parameters.get("room")) else {
            let language = PagePresentation.language(acceptLanguage: accepted)
            let brand = WaitPage.Brand(room: "", settings: nil, language: language)
            let page = pages.wait
            let html = page.render(brand, page.notFound(language), title: page.text("not_found_title", language))
            return Responses.html(status: .notFound, html, scriptHashes: page.template.scriptHashes)
        }
        let settings = entry.snapshot.settings
        var brand = WaitPage.Brand(room: room, settings: settings, language: PagePresentation.language(acceptLanguage: accepted, fixed: settings.language))
        brand.pass = request.uri.queryParameters.get("pass").map { String($0) }
        let page = pages.wait
        guard request.uri.queryParameters.get("js") == "0" else {
            return pageResponse(page.render(brand, page.joining(brand.language)), brand: brand)
        }
        // Without JavaScript the server joins (or polls) for the shopper through the same flow as the API, and
        // renders its typed answer. A join pass from the shop's link counts as the header the script would send.
        var request = request
        if let pass = brand.pass {
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
            return pageResponse(page.render(brand, page.view(error, brand: brand)), brand: brand)
        }
        guard let (reply, setCookie) = answer else {
            // A proof of work is needed, which only the script can solve.
            return pageResponse(page.render(brand, page.view(APIError(.preconditionRequired, "error", ""), brand: brand)), brand: brand)
        }
        let ticketID = held?.id ?? reply.ticket.flatMap(flow.tickets.parsed)?.id ?? ""
        var view = page.view(WaitPage.Status(reply), brand: brand, queueID: PagePresentation.queueID(ticketID: ticketID), now: Date())
        view.againToken = ticketID.isEmpty ? "" : againFormToken(ticketID: ticketID)
        var response = pageResponse(page.render(brand, view), brand: brand)
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

    /// The form behind "Join the line again": only from this site's own page (a forged cross-site post
    /// would cost the shopper their place; see ``JoinAgainFormCheck``), then back to the page with the new
    /// ticket's cookie.
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
        var headers: HTTPFields = [.location: "/wait/\(room)?js=0", .cacheControl: "no-store"]
        if request.uri.queryParameters.get("again") == "1" {
            // The API's own "join again": a new place at the back whatever ticket the cookie holds.
            if case .placed(let reply, let ticket, true)? = try? await flow.join(request, room: room, .init(fresh: true)), let text = reply.ticket {
                headers[.setCookie] = cookie.header(room: ticket.room, ticket: text)
            }
        }
        return Response(status: .seeOther, headers: headers)
    }

    /// The "join again" form's token on a page that holds the ticket: the MAC of the ticket's id under the
    /// ticket secret (a prefix of its own keeps it from passing for any other signed value). A cross-site
    /// page cannot read it, and a cross-site post does not carry the ticket cookie (SameSite=Lax) anyway.
    func againFormToken(ticketID: String) -> String {
        let signed = flow.tickets.signer.sign("join-again-form." + ticketID)
        return String(signed[signed.index(after: signed.lastIndex(of: ".")!)...])
    }

    /// A page with its headers; the CSP lets the shop's logo load from the shop's own origin.
    private func pageResponse(_ html: String, brand: WaitPage.Brand) -> Response {
        PageSecurity.page(
            status: .ok, html, scriptHashes: pages.wait.template.scriptHashes, imageOrigins: brand.logoUrl.flatMap(PageSecurity.origin).map { [$0] } ?? []
        )
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
        case .entering(let eta, let poll):
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

import Foundation

/// Where one organisation's feed stands, as `rosterdrop status` shows it.
public struct OrganisationStatus: Sendable, Codable, Equatable {
    public struct LastDelivery: Sendable, Codable, Equatable {
        public var timestamp: String
        public var outcome: String
        public var answeredAt: String
        /// Hours from when the job answered it to now.
        public var ageHours: Double
    }

    public struct LastRun: Sendable, Codable, Equatable {
        public var at: String
        public var ok: Bool
        public var error: String?
        public var seconds: Double
    }

    public struct Deadline: Sendable, Codable, Equatable {
        public var day: String
        public var what: String
    }

    public var id: String
    /// `live`, `test`, or `test until YYYY-MM-DD` (before the integration start).
    public var mode: String
    /// `none`, `planned`, `started`, `cleaned up`.
    public var integration: String
    public var lastDelivery: LastDelivery?
    public var held: [String]
    /// Accounts from before the integration still without a Skolon license, until the clean-up.
    public var accountsAtRisk: Int?
    public var lastRun: LastRun?
    public var lastSuccessAt: String?
    public var nextDeadline: Deadline?
    /// Why it needs someone's attention; empty when all is well.
    public var flags: [String]
}

/// Every configured organisation's status, read from the ledger: nothing here writes.
public struct StatusBoard {
    public let configuration: JobConfiguration
    public let database: PortalDatabase

    public init(configuration: JobConfiguration, database: PortalDatabase) {
        self.configuration = configuration
        self.database = database
    }

    public func statuses(now: Date) throws -> [OrganisationStatus] {
        let clock = JobClock(now: { now }, timeZone: configuration.timeZone)
        let today = clock.day(of: now)
        return try database.read { db in
            try configuration.organisations.map { organisation in
                do {
                    return try status(db, organisation: organisation, clock: clock, today: today, now: now)
                } catch let error as IntegrationError {
                    // One organisation's inconsistent calendar is its flag, not everyone's silence.
                    return OrganisationStatus(id: organisation.id, mode: organisation.mode.rawValue, integration: "inconsistent",
                                              held: [], flags: ["configuration: \(error.message)"])
                }
            }
        }
    }

    private func status(_ db: any StoreSession, organisation: OrganisationConfiguration, clock: JobClock, today: CalendarDay,
                        now: Date) throws -> OrganisationStatus {
        let id = organisation.id
        var status = OrganisationStatus(id: id, mode: organisation.mode.rawValue, integration: "none", held: [], flags: [])
        var deadlines: [OrganisationStatus.Deadline] = []
        let state = try IntegrationStart.state(db, organisation: organisation, clock: clock)
        switch state {
        case .none:
            break
        case .planned(let day):
            status.integration = "planned"
            if today < day { status.mode = "test until \(day.iso)" }
            deadlines.append(.init(day: day.iso, what: "integration start"))
        case .started(let day, _):
            let done = try IntegrationCleanup.isDone(db, organisation: id)
            status.integration = done ? "cleaned up" : "started"
            if !done {
                let deadline = IntegrationCleanup.deadline(startedOn: state.startedOn(clock: clock) ?? day,
                                                           policy: organisation.integration)
                deadlines.append(.init(day: deadline.iso, what: "integration clean-up"))
                status.accountsAtRisk = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (\(IntegrationCleanup.atRiskSQL)) at_risk",
                                                         arguments: [id])
            }
        }
        if let ending = try String.fetchOne(db, sql: """
            SELECT MIN(valid_to) FROM licenses WHERE organisation_id = ? AND source = 'skolon' AND valid_to >= ?
            """, arguments: [id, today.iso]), let day = CalendarDay(iso: ending) {
            deadlines.append(.init(day: day.adding(days: 1).iso, what: "license expiry: the first licenses end \(ending) and go the day after"))
        }
        status.nextDeadline = deadlines.min { $0.day < $1.day }

        // The last delivery the job answered, aged by the job's own clock: a sender's timestamp
        // (even a refused, future one) decides neither.
        if let row = try StoreRow.fetchOne(db, sql: """
            SELECT timestamp, outcome, received_at FROM deliveries WHERE organisation_id = ? ORDER BY id DESC LIMIT 1
            """, arguments: [id]) {
            let answeredAt: String = row["received_at"]
            let age = JobClock.parseISO(answeredAt).map { now.timeIntervalSince($0) / 3600 } ?? 0
            status.lastDelivery = .init(timestamp: row["timestamp"], outcome: row["outcome"], answeredAt: answeredAt,
                                        ageHours: (age * 10).rounded() / 10)
        }
        // Waiting for an operator; an approved or discarded one is taken by the next run.
        status.held = try Ledger(db: db, organisation: id).openHolds().filter { $0.state == .held }.map(\.timestamp)
        if let row = try StoreRow.fetchOne(db, sql: "SELECT * FROM organisation_runs WHERE organisation_id = ?", arguments: [id]) {
            status.lastRun = .init(at: row["last_run_at"], ok: row["last_run_ok"], error: row["last_error"],
                                   seconds: row["last_duration_seconds"])
            status.lastSuccessAt = row["last_success_at"]
        }

        if let delivery = status.lastDelivery {
            // A run recorded after `now` (the job's clock ahead of this one, or `--now` in the past):
            // no age can be trusted, so someone should look at the clocks.
            if delivery.ageHours < 0 {
                status.flags.append("clock: the last delivery was answered at \(delivery.answeredAt), after now")
            } else if delivery.ageHours > Double(organisation.silentAfterDays * 24) {
                status.flags.append("silent: no delivery for \(Int(delivery.ageHours / 24)) days (flagged after \(organisation.silentAfterDays))")
            }
        } else {
            status.flags.append("silent: no delivery yet")
        }
        if let run = status.lastRun, !run.ok { status.flags.append("failed: the last run failed (\(run.error ?? "unknown"))") }
        if status.lastRun == nil { status.flags.append("never run") }
        if !status.held.isEmpty { status.flags.append("held: \(status.held.count) delivery waits for an operator") }
        if status.lastDelivery?.outcome == DeliveryOutcome.refused.rawValue {
            status.flags.append("refused: the last delivery was refused")
        }
        return status
    }
}

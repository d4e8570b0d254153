extension DemoOrganisation {
    /// A municipality with a 7–9 school and an F–6 school, about 120 people and 11 groups.
    ///
    /// One teaching group's name holds a comma and a line break: valid CSV once quoted, and a
    /// record that spans two physical lines, which line numbering in reports must survive.
    static let exempelKommun = DemoOrganisation(
        slug: "exempel-kommun",
        orderPrefix: "ek",
        stream: 0x4558_454D_5045_4C31,
        emailDomain: "exempel.se",
        units: [
            Unit(
                code: "12345678", teachers: 6, students: 62, classes: ["7A", "8A", "8B", "9A"],
                teachingGroups: [
                    TeachingGroup(name: "Ma 8A", className: "8A"),
                    TeachingGroup(name: "Svenska åk 9", grade: 9),
                    TeachingGroup(name: "NO åk 7, grupp 2\n(laborationer)", grade: 7, everySecond: true),
                ]),
            Unit(
                code: "23456789", teachers: 6, students: 46, classes: ["3A", "5B", "6A"],
                teachingGroups: [TeachingGroup(name: "Engelska åk 6", grade: 6)]),
        ])

    /// An independent school (friskola) with one unit and a clean delivery of about 40 people.
    static let friskolanNorr = DemoOrganisation(
        slug: "friskolan-norr",
        orderPrefix: "fn",
        stream: 0x4652_4953_4B4F_4C41,
        emailDomain: "friskolannorr.se",
        units: [
            Unit(
                code: "45678901", teachers: 4, students: 36, classes: ["4A", "5A", "6A", "7A", "8A", "9A"],
                teachingGroups: [
                    TeachingGroup(name: "Ma 9A", className: "9A"),
                    TeachingGroup(name: "Svenska åk 8", grade: 8),
                ]),
        ])
}

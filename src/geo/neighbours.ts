// Countries one can cross between in well under an hour: shared land borders, plus a few short fixed links
// or ferry crossings (the Channel Tunnel, the Øresund bridge, Tallinn–Helsinki). The audit log locates an
// account only to a country, and two neighbours' centroids can be 500+ km apart while the account's owner
// lives ten minutes from the border, so "impossible travel" must never be read between neighbours. A table
// is used rather than distances between borders: it is small, exact where it matters, and needs no shapes.
//
// Limits: pairs are undirected and listed once, under the alphabetically first code; overseas territories
// (French Guiana, Sint Maarten) border only what their own code touches; sea crossings longer than a short
// ferry (Florida–Cuba, Korea–Japan) are not neighbours, and neither are large countries' remote edges
// (Alaska and Chukotka), so an unusual but possible trip across them still relies on the speed threshold.

/** `AA:BB CC` — AA borders BB and CC. Land borders first, then the short sea links. */
const PAIRS = `
AD:ES FR|AE:OM SA|AF:CN IR PK TJ TM UZ|AL:GR ME MK XK|AM:AZ GE IR TR|AO:CD CG NA ZM|AR:BO BR CL PY UY
AT:CH CZ DE HU IT LI SI SK|AZ:GE IR RU TR|BA:HR ME RS|BD:IN MM|BE:DE FR LU NL|BF:BJ CI GH ML NE TG
BG:GR MK RO RS TR|BI:CD RW TZ|BJ:NE NG TG|BN:MY|BO:BR CL PE PY|BR:CO GF GY PE PY SR UY VE|BT:CN IN
BW:NA ZA ZM ZW|BY:LT LV PL RU UA|BZ:GT MX|CA:US|CD:CF CG RW SS TZ UG ZM|CF:CG CM SD SS TD|CG:CM GA
CH:DE FR IT LI|CI:GH GN LR ML|CL:PE|CM:GA GQ NG TD|CN:HK IN KG KP KZ LA MM MN MO NP PK RU TJ VN
CO:EC PA PE VE|CR:NI PA|CZ:DE PL SK|DE:DK FR LU NL PL|DJ:ER ET SO|DO:HT|DZ:EH LY MA ML MR NE TN|EC:PE
EE:LV RU|EG:IL LY PS SD|EH:MA MR|ER:ET SD|ES:FR GI MA PT|ET:KE SD SO SS|FI:NO RU SE|FR:IT LU MC|GA:GQ
GE:RU TR|GH:TG|GM:SN|GN:GW LR ML SL SN|GT:HN MX SV|GY:SR VE|HN:NI SV|HR:HU ME RS SI|HU:RO RS SI SK UA
ID:MY PG TL|IE:GB|IL:JO LB PS SY|IN:MM NP PK|IQ:IR JO KW SA SY TR|IR:PK TM TR|IT:SI SM VA|JO:PS SA SY
KE:SO SS TZ UG|KG:KZ TJ UZ|KH:LA TH VN|KP:KR RU|KW:SA|KZ:RU TM UZ|LA:MM TH VN|LB:SY|LR:SL|LS:ZA
LT:LV PL RU|LY:NE SD TD TN|MD:RO UA|ME:RS XK|MF:SX|MK:RS XK|ML:MR NE SN|MM:TH|MN:RU|MW:MZ TZ ZM|MX:US
MY:TH|MZ:SZ TZ ZA ZM ZW|NA:ZA ZM|NE:NG TD|NG:TD|NO:RU SE|OM:SA YE|PL:RU SK UA|QA:SA|RO:RS UA|RS:XK
RU:UA|RW:TZ UG|SA:YE|SD:SS TD|SK:UA|SR:GF|SS:UG|SY:TR|TJ:UZ|TM:UZ|TZ:UG ZM|ZA:ZW|ZM:ZW
AX:FI|BH:SA|CY:TR|DK:SE|EE:FI|FR:GB JE|GB:GG IM JE|HK:MO|IT:MT|MY:SG
`;

const NEIGHBOURS: ReadonlyMap<string, ReadonlySet<string>> = (() => {
  const m = new Map<string, Set<string>>();
  const add = (a: string, b: string) => {
    const set = m.get(a) ?? new Set<string>();
    set.add(b);
    m.set(a, set);
  };
  for (const group of PAIRS.split(/[|\n]/)) {
    const [head, rest] = group.trim().split(":");
    if (!head || !rest) continue;
    for (const other of rest.trim().split(/\s+/)) {
      add(head, other);
      add(other, head);
    }
  }
  return m;
})();

/** Whether two countries (ISO alpha-2, upper-case) are the same or can be crossed between in well under an hour. */
export function areNeighbours(a: string, b: string): boolean {
  return a === b || (NEIGHBOURS.get(a)?.has(b) ?? false);
}

/** Every neighbour of a country, sorted; for documentation and checks. */
export function neighboursOf(code: string): string[] {
  return [...(NEIGHBOURS.get(code) ?? [])].sort();
}

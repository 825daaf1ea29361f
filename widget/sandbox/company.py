"""The demo's company: one description of a Japanese business's customers that both sandboxes seed from.

Zylker Japan sells to the customers below. Its CRM holds them as Accounts, Contacts, Leads and Deals;
its Zendesk account holds the same people (same email addresses) as end-users, and the same companies
as organizations, as a company that has used both for a while would have them:

- most organizations were imported from the CRM earlier, with the CRM account's id as external_id
  (`zcrm:Accounts:<id>`), so the first sync finds them as the account's own;
- a few were typed in by hand with exactly the account's name and no external_id (`same_name`): a name
  clash the first sync resolves by adopting the organization;
- one holds an account's name but belongs to another system (`other_system`: its external_id is a
  kintone record's), which the first sync must not take: it shows in the error log;
- a few accounts have no organization yet (`absent`): the first sync creates them;
- most contacts and some leads have written to support (they are Zendesk users with tickets); the
  rest are only in the CRM. Zendesk also has requesters the CRM does not know (`colleagues` at customer
  companies, `strangers` writing from personal addresses, a clinic that is only a Zendesk organization).

The CRM records have fixed ids (real Zoho ids are 19 digits; these use a prefix no sandbox org hands
out), so a Zendesk ticket created from a Deal page can carry that Deal in its external_id
(`zcrm:Deals:<id>`), as the record widget writes it. The JP org gets the Japanese names; orgs of other
data centres get the same people and companies in English (same ids and email addresses).
"""
from dataclasses import dataclass, field
from functools import lru_cache

ID_PREFIX = "3652000"  # sandbox orgs hand out ids starting 57… (crm/state.py): never one of these
ACCOUNT_IDS, CONTACT_IDS, LEAD_IDS, DEAL_IDS = 1_000, 2_000, 3_000, 4_000

# How an account's company exists in Zendesk before the first sync (see the module docstring).
IMPORTED, SAME_NAME, OTHER_SYSTEM, ABSENT = "imported", "same_name", "other_system", "absent"


def external_id(module, record_id):
    """A CRM record's id as the extension writes it into Zendesk's external_id (README: the sync)."""
    return f"zcrm:{module}:{record_id}"


def crm_id(block, n):
    """A fixed 19-digit CRM record id."""
    return f"{ID_PREFIX}{block + n:012d}"


@dataclass(frozen=True)
class Account:
    crm_id: str
    name: dict  # language -> name ({"ja": ..., "en": ...})
    domain: str
    city: dict
    industry: str
    employees: int
    zendesk: str  # IMPORTED | SAME_NAME | OTHER_SYSTEM | ABSENT
    other_external_id: str = None  # OTHER_SYSTEM: the external_id the Zendesk organization carries

    @property
    def website(self):
        return f"https://www.{self.domain}"


@dataclass(frozen=True)
class Person:
    family: dict  # language -> family name
    given: dict
    email: str
    phone: str
    crm_id: str = None  # None: not in the CRM
    account: Account = None  # a Contact's Account (or the customer company a Zendesk-only colleague works at)
    company: dict = None  # a Lead's company name, or a Zendesk-only organization's
    title: dict = field(default_factory=dict)
    in_zendesk: bool = True  # has written to support (a Zendesk end-user with tickets)

    def name(self, language):
        """The name as each side writes it: family name first in Japanese, given name first in English."""
        if language == "ja":
            return f"{self.family['ja']} {self.given['ja']}"
        return f"{self.given['en']} {self.family['en']}"


@dataclass(frozen=True)
class Deal:
    crm_id: str
    name: dict
    account: Account
    contact: Person
    amount: int
    stage: str
    probability: int
    closing_in_days: int
    has_tickets: bool  # the sales rep opened tickets from the Deal's page


@dataclass(frozen=True)
class Company:
    accounts: list
    contacts: list
    leads: list
    deals: list
    colleagues: list  # Zendesk-only people at customer companies (in the account's organization)
    strangers: list  # Zendesk-only people: personal addresses, or a company that is only a Zendesk organization
    other_organizations: list  # Zendesk-only organizations: {"name", "domain"}


def _names(pairs):
    return [{"ja": ja, "en": en} for ja, en in pairs]


# (Japanese, English); English company names as the companies write them.
ACCOUNTS = [
    # (name ja, name en, domain, city ja, city en, industry, employees, zendesk presence)
    ("さくら商事株式会社", "Sakura Trading Co., Ltd.", "sakura-trading.example.jp", "東京", "Tokyo",
     "Large Enterprise", 1200, IMPORTED),
    ("富士ロジスティクス株式会社", "Fuji Logistics Inc.", "fuji-logistics.example.jp", "静岡", "Shizuoka",
     "Service Provider", 640, IMPORTED),
    ("株式会社クモソフトウェア", "Kumo Software Inc.", "kumo-soft.example.jp", "東京", "Tokyo",
     "Non-management ISV", 85, IMPORTED),
    ("ひかりフーズ株式会社", "Hikari Foods Co., Ltd.", "hikari-foods.example.jp", "大阪", "Osaka",
     "Small/Medium Enterprise", 230, IMPORTED),
    ("株式会社みなと銀行", "Minato Bank, Ltd.", "minato-bank.example.jp", "横浜", "Yokohama",
     "Large Enterprise", 3100, IMPORTED),
    ("青葉デザイン株式会社", "Aoba Design Co., Ltd.", "aoba-design.example.jp", "仙台", "Sendai",
     "Small/Medium Enterprise", 24, IMPORTED),
    ("つばさモーターズ株式会社", "Tsubasa Motors Corporation", "tsubasa-motors.example.jp", "名古屋", "Nagoya",
     "Large Enterprise", 5400, IMPORTED),
    ("大和リテール株式会社", "Yamato Retail Co., Ltd.", "yamato-retail.example.jp", "奈良", "Nara",
     "Small/Medium Enterprise", 410, IMPORTED),
    ("風エナジー株式会社", "Kaze Energy Inc.", "kaze-energy.example.jp", "札幌", "Sapporo",
     "Service Provider", 150, IMPORTED),
    ("波製薬株式会社", "Nami Pharmaceutical Co., Ltd.", "nami-pharma.example.jp", "大阪", "Osaka",
     "Large Enterprise", 980, IMPORTED),
    ("北斗精機株式会社", "Hokuto Precision Co., Ltd.", "hokuto-seiki.example.jp", "長野", "Nagano",
     "Storage Equipment", 320, IMPORTED),
    ("株式会社しらかば不動産", "Shirakaba Realty Inc.", "shirakaba-realty.example.jp", "軽井沢", "Karuizawa",
     "Small/Medium Enterprise", 40, IMPORTED),
    ("瀬戸内マリン株式会社", "Setouchi Marine Co., Ltd.", "setouchi-marine.example.jp", "広島", "Hiroshima",
     "Service Provider", 120, IMPORTED),
    ("株式会社あかね出版", "Akane Publishing Inc.", "akane-pub.example.jp", "東京", "Tokyo",
     "Small/Medium Enterprise", 60, SAME_NAME),
    ("浪速電機工業株式会社", "Naniwa Electric Industries, Ltd.", "naniwa-denki.example.jp", "大阪", "Osaka",
     "Network Equipment Enterprise", 760, SAME_NAME),
    ("株式会社いろは教育", "Iroha Education Inc.", "iroha-edu.example.jp", "京都", "Kyoto",
     "Small/Medium Enterprise", 95, SAME_NAME),
    ("東雲ホテルズ株式会社", "Shinonome Hotels Co., Ltd.", "shinonome-hotels.example.jp", "福岡", "Fukuoka",
     "Service Provider", 870, OTHER_SYSTEM),
    ("株式会社ミドリ農園", "Midori Farms Inc.", "midori-farms.example.jp", "熊本", "Kumamoto",
     "Small/Medium Enterprise", 35, ABSENT),
    ("銀河通信株式会社", "Ginga Telecom Co., Ltd.", "ginga-telecom.example.jp", "東京", "Tokyo",
     "Wireless Industry", 2300, ABSENT),
    ("株式会社たちばな建設", "Tachibana Construction Inc.", "tachibana-kensetsu.example.jp", "神戸", "Kobe",
     "Small/Medium Enterprise", 210, ABSENT),
]
OTHER_SYSTEM_ID = "kintone:customer-0417"  # the clashing organization belongs to a kintone app's record

FAMILY = _names([
    ("佐藤", "Sato"), ("鈴木", "Suzuki"), ("高橋", "Takahashi"), ("田中", "Tanaka"), ("伊藤", "Ito"),
    ("渡辺", "Watanabe"), ("山本", "Yamamoto"), ("中村", "Nakamura"), ("小林", "Kobayashi"), ("加藤", "Kato"),
    ("吉田", "Yoshida"), ("山口", "Yamaguchi"), ("佐々木", "Sasaki"), ("松本", "Matsumoto"), ("井上", "Inoue"),
    ("木村", "Kimura"), ("林", "Hayashi"), ("斎藤", "Saito"), ("清水", "Shimizu"), ("山崎", "Yamazaki"),
    ("森", "Mori"), ("池田", "Ikeda"), ("橋本", "Hashimoto"), ("阿部", "Abe"), ("石川", "Ishikawa"),
    ("前田", "Maeda"), ("藤田", "Fujita"), ("小川", "Ogawa"), ("岡田", "Okada"), ("長谷川", "Hasegawa"),
    ("村上", "Murakami"),
])
GIVEN = _names([
    ("陽翔", "Haruto"), ("結衣", "Yui"), ("翔太", "Shota"), ("美咲", "Misaki"), ("大輔", "Daisuke"),
    ("さくら", "Sakura"), ("健一", "Kenichi"), ("由美", "Yumi"), ("拓也", "Takuya"), ("恵", "Megumi"),
    ("直樹", "Naoki"), ("彩", "Aya"), ("誠", "Makoto"), ("愛", "Ai"), ("亮", "Ryo"), ("舞", "Mai"),
    ("剛", "Tsuyoshi"), ("真由美", "Mayumi"), ("和也", "Kazuya"), ("香織", "Kaori"), ("浩二", "Koji"),
    ("明美", "Akemi"), ("悠斗", "Yuto"), ("陽菜", "Hina"), ("蓮", "Ren"), ("葵", "Aoi"), ("颯太", "Sota"),
    ("凛", "Rin"), ("湊", "Minato"),
])
TITLES = _names([("情報システム部 部長", "IT Director"), ("総務部 課長", "General Affairs Manager"),
                 ("購買担当", "Purchasing"), ("代表取締役", "CEO"), ("経理担当", "Accounting"),
                 ("営業企画部", "Sales Planning"), ("カスタマーサポート責任者", "Head of Customer Support")])
# Prospects (Leads' companies): not CRM accounts, not Zendesk organizations.
PROSPECTS = [
    ("株式会社アルファネット", "Alphanet Inc.", "alphanet.example.jp"),
    ("株式会社ベータ工房", "Beta Kobo Inc.", "beta-kobo.example.jp"),
    ("株式会社みらい物流", "Mirai Logistics Inc.", "mirai-butsuryu.example.jp"),
    ("株式会社ことり舎", "Kotorisha Inc.", "kotorisha.example.jp"),
    ("株式会社はやぶさシステムズ", "Hayabusa Systems Inc.", "hayabusa-sys.example.jp"),
    ("株式会社つむぎ", "Tsumugi Inc.", "tsumugi.example.jp"),
    ("株式会社オーシャンブルー", "Ocean Blue Inc.", "ocean-blue.example.jp"),
    ("株式会社にじいろ保育", "Nijiiro Childcare Inc.", "nijiiro-hoiku.example.jp"),
    ("株式会社かがやき介護", "Kagayaki Care Inc.", "kagayaki-care.example.jp"),
    ("株式会社あおぞら旅行", "Aozora Travel Inc.", "aozora-travel.example.jp"),
    ("株式会社もみじ観光", "Momiji Tourism Inc.", "momiji-kanko.example.jp"),
    ("株式会社ひまわり薬局", "Himawari Pharmacy Inc.", "himawari-pharmacy.example.jp"),
    ("株式会社すずらん工業", "Suzuran Industries Inc.", "suzuran-kogyo.example.jp"),
    ("株式会社いなほ食品", "Inaho Foods Inc.", "inaho-foods.example.jp"),
    ("株式会社やまびこ通信", "Yamabiko Telecom Inc.", "yamabiko-tsushin.example.jp"),
    ("株式会社こもれび設計", "Komorebi Architects Inc.", "komorebi-sekkei.example.jp"),
    ("株式会社ほしぞらゲームス", "Hoshizora Games Inc.", "hoshizora-games.example.jp"),
    ("株式会社せせらぎ酒造", "Seseragi Brewery Inc.", "seseragi-shuzo.example.jp"),
    ("株式会社わかば会計", "Wakaba Accounting Inc.", "wakaba-kaikei.example.jp"),
    ("株式会社なごみ住宅", "Nagomi Homes Inc.", "nagomi-jutaku.example.jp"),
]
OTHER_ORGANIZATIONS = [("ひまわり歯科クリニック", "himawari-dental.example.jp"),
                       ("合同会社ことのは翻訳", "kotonoha-honyaku.example.jp")]
PRODUCTS = _names([("Zylker クラウド 年間契約", "Zylker Cloud annual plan"), ("追加ライセンス 20名分", "20 more seats"),
                   ("導入支援パッケージ", "Onboarding package"), ("API連携オプション", "API integration option"),
                   ("上位プランへの切り替え", "Upgrade to Professional")])
DEAL_STAGES = ["Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won",
               "Identify Decision Makers", "Value Proposition", "Closed Won", "Negotiation/Review", "Closed Lost"]
CONTACTS_PER_ACCOUNT = 3
LEADS_PER_PROSPECT = 2


def _person(n):
    """The n-th distinct (family, given) pair: walking both lists at once never repeats a pair."""
    family, given = FAMILY[n % len(FAMILY)], GIVEN[(n + n // len(FAMILY)) % len(GIVEN)]
    return family, given


def _email(given, family, domain):
    return f"{given['en']}.{family['en']}@{domain}".lower()


def _phone(area, n):
    return f"{area}-{1000 + (n * 379) % 9000:04d}-{(n * 7919) % 10000:04d}"


@lru_cache(maxsize=1)
def company():
    """The company, built the same way every time (no randomness: both sandboxes must agree)."""
    accounts = []
    for n, (ja, en, domain, city_ja, city_en, industry, employees, presence) in enumerate(ACCOUNTS):
        accounts.append(Account(crm_id(ACCOUNT_IDS, n + 1), {"ja": ja, "en": en}, domain,
                                {"ja": city_ja, "en": city_en}, industry, employees, presence,
                                OTHER_SYSTEM_ID if presence == OTHER_SYSTEM else None))
    contacts = []
    for n in range(len(accounts) * CONTACTS_PER_ACCOUNT):
        account = accounts[n // CONTACTS_PER_ACCOUNT]
        family, given = _person(n)
        contacts.append(Person(family, given, _email(given, family, account.domain), _phone("03", n),
                               crm_id=crm_id(CONTACT_IDS, n + 1), account=account, title=TITLES[n % len(TITLES)],
                               in_zendesk=n % 6 != 5))  # one in six never wrote to support
    leads = []
    for n in range(len(PROSPECTS) * LEADS_PER_PROSPECT):
        ja, en, domain = PROSPECTS[n // LEADS_PER_PROSPECT]
        family, given = _person(n + 100)
        leads.append(Person(family, given, _email(given, family, domain), _phone("06", n + 100),
                            crm_id=crm_id(LEAD_IDS, n + 1), company={"ja": ja, "en": en},
                            title=TITLES[(n + 3) % len(TITLES)], in_zendesk=n % 8 in (0, 3, 5)))
    deals = []
    for n, account in enumerate(accounts):
        contact = contacts[n * CONTACTS_PER_ACCOUNT]  # each account's first contact, who writes to support
        product = PRODUCTS[n % len(PRODUCTS)]
        name = {lang: f"{account.name[lang]} - {product[lang]}" for lang in ("ja", "en")}
        deals.append(Deal(crm_id(DEAL_IDS, n + 1), name, account, contact, amount=(n % 7 + 1) * 480_000,
                          stage=DEAL_STAGES[n % len(DEAL_STAGES)], probability=(10, 20, 40, 60, 75, 90)[n % 6],
                          closing_in_days=(n * 11) % 120 - 30, has_tickets=n % 5 in (0, 2)))
    colleagues = []
    for n, account in enumerate(a for a in accounts if a.zendesk == IMPORTED):
        family, given = _person(n + 200)
        colleagues.append(Person(family, given, _email(given, family, account.domain), _phone("045", n),
                                 account=account))
    strangers = []
    for n in range(8):
        family, given = _person(n + 300)
        strangers.append(Person(family, given, f"{given['en']}.{family['en']}{n + 1}@mail.example.com".lower(),
                                _phone("090", n)))
    for n, (name, domain) in enumerate(OTHER_ORGANIZATIONS * 2):
        family, given = _person(n + 400)
        strangers.append(Person(family, given, _email(given, family, domain), _phone("092", n),
                                company={"ja": name, "en": name}))
    return Company(accounts, contacts, leads, deals, colleagues, strangers,
                   [{"name": name, "domain": domain} for name, domain in OTHER_ORGANIZATIONS])


def language_of(dc):
    """The language of a CRM data centre's demo org: Japanese in JP, English elsewhere."""
    return "ja" if dc == "jp" else "en"

"""The seeded world every simulator run starts from; ids are fixed so tests can rely on them."""

GRAPH_VERSION = "v25.0"

# Facebook / Instagram
FACEBOOK_APP_ID = "sim-fb-app"
FACEBOOK_APP_SECRET = "sim-fb-secret"
FACEBOOK_APP_NAME = "SocialCRM (simulated app)"
FACEBOOK_USER_ID = "10001"
FACEBOOK_USER_NAME = "Alex Fairway"

PAGE_MAIN_ID = "2001"
PAGE_JUNIORS_ID = "2002"
PAGE_PRO_SHOP_ID = "2003"
PAGE_ACADEMY_ID = "2004"  # reached through a Business Manager only
INSTAGRAM_USER_ID = "17841400000000001"
INSTAGRAM_USERNAME = "pinewoodgolf"

FACEBOOK_PAGES = {
    PAGE_MAIN_ID: {
        "name": "Pinewood Golf Club",
        "category": "Golf Course & Country Club",
        "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"],
        "instagram_business_account": INSTAGRAM_USER_ID,
        "fan_count": 1250,
    },
    PAGE_JUNIORS_ID: {
        "name": "Pinewood Juniors",
        "category": "Sports Club",
        "tasks": ["ANALYZE", "CREATE_CONTENT"],
        "instagram_business_account": None,
        "fan_count": 40,  # under 100 likes: no Page insights
    },
    PAGE_PRO_SHOP_ID: {
        "name": "Pinewood Pro Shop",
        "category": "Sporting Goods Store",
        "tasks": ["ANALYZE"],
        "instagram_business_account": None,
        "fan_count": 310,
    },
    PAGE_ACADEMY_ID: {
        "name": "Pinewood Golf Academy",
        "category": "Sports Instruction",
        "tasks": ["ANALYZE", "CREATE_CONTENT", "MODERATE"],
        "instagram_business_account": None,
        "fan_count": 520,
        "business_manager": True,  # listed in /me/accounts only with business_management
    },
}
# Page insights exist only for Pages with at least this many likes.
FACEBOOK_INSIGHTS_MIN_FANS = 100

INSTAGRAM_ACCOUNTS = {
    INSTAGRAM_USER_ID: {
        "username": INSTAGRAM_USERNAME,
        "name": "Pinewood Golf Club",
        "page_id": PAGE_MAIN_ID,
        "profile_picture_url": "https://scontent.cdninstagram.com/sim/pinewoodgolf.jpg",
    },
}

INSTAGRAM_PUBLISH_QUOTA = 50  # published posts per rolling 24 h per account
INSTAGRAM_CONTAINER_TTL = 24 * 3600
# Media insights answer "(#10) Not enough viewers" below this reach.
INSTAGRAM_INSIGHTS_MIN_REACH = 5
# Seconds (simulated clock) a video takes to process; /_sim/processing changes them per test.
VIDEO_PROCESSING_SECONDS = {"instagram": 60, "facebook": 30}

# X
X_CLIENT_ID = "sim-x-client"
X_CLIENT_SECRET = "sim-x-secret"
X_PUBLIC_CLIENT_ID = "sim-x-public"  # a public (PKCE-only, no secret) client
X_USER_ID = "1500000000000000001"
X_USER_NAME = "Pinewood Golf"
X_USERNAME = "pinewoodgolf"
X_ACCESS_TOKEN_TTL = 7200
X_REFRESH_TOKEN_TTL = 180 * 24 * 3600
X_CODE_TTL = 30
X_TWEETS_PER_15_MIN = 100
# X's 24-hour caps on POST /2/tweets, sent as x-user-limit-24hour-* and x-app-limit-24hour-*:
# 10,000 per app (X's rate-limit table); the per-user number depends on the account's tier and is
# not published, so it is high here and tests lower it through POST /_sim/x.
X_TWEETS_PER_24H_USER = 2400
X_TWEETS_PER_24H_APP = 10000
# X media (docs.x.com/x-api/media): upload size limits, chunk size, and how long GIF/video
# processing stays in_progress on the simulated clock.
X_MEDIA_LIMITS = {"image": 5 * 1024 * 1024, "gif": 15 * 1024 * 1024, "video": 512 * 1024 * 1024}
X_CHUNK_MAX_BYTES = 5 * 1024 * 1024
X_PROCESSING_SECONDS = 2.0

# LinkedIn
LINKEDIN_CLIENT_ID = "sim-li-client"
LINKEDIN_CLIENT_SECRET = "sim-li-secret"
LINKEDIN_MEMBER_URN = "urn:li:person:AbC123xYz"
LINKEDIN_MEMBER_NAME = "Alex Fairway"
# The member's role on each page (organizationAcls): administrators and content administrators
# may post; an analyst may not.
LINKEDIN_ORGANIZATIONS = {
    "3001": {"localizedName": "Pinewood Golf Club", "vanityName": "pinewood-golf", "role": "ADMINISTRATOR"},
    "3002": {"localizedName": "Pinewood Events Ltd", "vanityName": "pinewood-events",
             "role": "CONTENT_ADMINISTRATOR"},
    "3003": {"localizedName": "Pinewood Pro Shop", "vanityName": "pinewood-pro-shop", "role": "ANALYST"},
}
# Roles that may create posts and upload media as the organization (Videos API: "company admin,
# DSC poster, or content admin").
LINKEDIN_POSTING_ROLES = ("ADMINISTRATOR", "CONTENT_ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER")
# A second app, not approved for programmatic refresh tokens (most apps): no refresh token issued.
LINKEDIN_BASIC_CLIENT_ID = "sim-li-basic"
LINKEDIN_BASIC_CLIENT_SECRET = "sim-li-basic-secret"
LINKEDIN_APPS = {
    LINKEDIN_CLIENT_ID: {"secret": LINKEDIN_CLIENT_SECRET, "programmatic_refresh": True},
    LINKEDIN_BASIC_CLIENT_ID: {"secret": LINKEDIN_BASIC_CLIENT_SECRET, "programmatic_refresh": False},
}
# Uploaded images and videos stay PROCESSING this long (simulated seconds) before AVAILABLE.
LINKEDIN_MEDIA_PROCESSING_SECONDS = 0.5
LINKEDIN_VIDEO_PART_SIZE = 4 * 1024 * 1024  # bytes per uploadInstructions part, as LinkedIn's 4 MB
LINKEDIN_ACCESS_TOKEN_TTL = 60 * 24 * 3600
LINKEDIN_REFRESH_TOKEN_TTL = 365 * 24 * 3600
LINKEDIN_CODE_TTL = 30 * 60

# Facebook codes and tokens
FACEBOOK_CODE_TTL = 10 * 60
FACEBOOK_SHORT_TOKEN_TTL = 3600
FACEBOOK_LONG_TOKEN_TTL = 5184000

SAMPLE_MEDIA = ("sample.jpg", "sample2.jpg", "sample3.jpg", "sample.gif", "sample.png", "sample.mp4")

APP_CREDENTIALS = {
    "facebook": (FACEBOOK_APP_ID, FACEBOOK_APP_SECRET),
    "twitter": (X_CLIENT_ID, X_CLIENT_SECRET),
    "linkedin": (LINKEDIN_CLIENT_ID, LINKEDIN_CLIENT_SECRET),
}

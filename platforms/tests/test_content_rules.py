"""Content rules: what each platform accepts, counted the way the platform counts it."""

import pytest

from platforms import InvalidContent, PostContent, adapter_for_slug, get_adapter
from platforms.linkedin import escape_keeping_hashtags, unescape_little_text

IMAGE = "https://club.example/media/green.jpg"


def x():
    return get_adapter("TWITTER")


def instagram():
    return get_adapter("INSTAGRAM")


def linkedin():
    return get_adapter("LINKEDIN")


def facebook():
    return get_adapter("FACEBOOK")


# ---------------------------------------------------------------- registry


def test_registry_finds_every_platform_by_value_and_slug():
    assert {a.platform for a in __import__("platforms").all_adapters()} == {
        "FACEBOOK", "INSTAGRAM", "TWITTER", "LINKEDIN"}
    assert adapter_for_slug("twitter") is get_adapter("TWITTER")
    assert get_adapter("linkedin").display_name == "LinkedIn"
    with pytest.raises(LookupError):
        get_adapter("MYSPACE")


# ---------------------------------------------------------------- X weighting


def test_x_counts_a_url_as_23_whatever_its_length():
    long_url = "https://www.pinewood-golf-club.co.uk/tee-times/saturday-morning?utm_source=socialcrm"
    assert x().text_length(PostContent(text=f"Book now {long_url}")) == len("Book now ") + 23
    assert x().text_length(PostContent(text="Book now", link=long_url)) == len("Book now") + 2 + 23


def test_x_counts_cjk_and_emoji_as_two():
    assert x().text_length(PostContent(text="ゴルフ")) == 6
    assert x().text_length(PostContent(text="⛳🏌️‍♀️")) == 4  # a ZWJ sequence is one emoji
    assert x().text_length(PostContent(text="a😀b")) == 4


def test_x_accepts_exactly_280_and_refuses_281():
    assert x().validate(PostContent(text="a" * 280)) == []
    violations = x().validate(PostContent(text="a" * 281))
    assert len(violations) == 1
    assert violations[0].field == "text"
    assert violations[0].message == "X (Twitter) allows 280 characters; this post has 281 (links count as 23)."


def test_x_length_includes_appended_hashtags_and_link():
    content = PostContent(text="a" * 250, hashtags=["golf", "#club"], link="https://pinewoodgolf.com/x")
    assert x().render_text(content) == "a" * 250 + "\n\nhttps://pinewoodgolf.com/x\n\n#golf #club"
    assert x().text_length(content) == 250 + 2 + 23 + 2 + 11
    assert x().validate(content)[0].message.startswith("X (Twitter) allows 280 characters; this post has 288")


def test_x_allows_four_images_or_one_gif_or_one_video():
    assert x().validate(PostContent(text="hi", media_urls=[IMAGE] * 4)) == []
    messages = [v.message for v in x().validate(PostContent(text="hi", media_urls=[IMAGE] * 5))]
    assert messages == ["X (Twitter) allows at most 4 images or videos in one post; this post has 5."]
    assert x().validate(PostContent(text="hi", media_urls=["https://club.example/clip.mp4"])) == []
    assert x().validate(PostContent(text="hi", media_urls=["https://club.example/swing.gif"])) == []
    for mixed in (["https://club.example/clip.mp4", IMAGE], [IMAGE, "https://club.example/swing.gif"]):
        assert [v.message for v in x().validate(PostContent(text="hi", media_urls=mixed))] == [
            "X allows up to 4 images, or one GIF, or one video in a post."]


def test_x_media_size_rules_are_x_own():
    """docs.x.com/x-api/media: image 5 MB, GIF 15 MB, video 512 MB (not the app's 8 MB upload cap)."""
    mb = 1024 * 1024
    assert x().media_size_violations([("a.jpg", "image/jpeg", 5 * mb), ("b.gif", "image/gif", 15 * mb),
                                 ("c.mp4", "video/mp4", 512 * mb)]) == []
    assert [v.message for v in x().media_size_violations([("a.jpg", "image/jpeg", 6 * mb)])] == [
        "X (Twitter) takes images of at most 5 MB; a.jpg is larger."]
    assert [v.message for v in x().media_size_violations([("b.gif", "image/gif", 16 * mb)])] == [
        "X (Twitter) takes GIFs of at most 15 MB; b.gif is larger."]
    assert [v.message for v in x().media_size_violations([("c.mp4", "video/mp4", 513 * mb)])] == [
        "X (Twitter) takes videos of at most 512 MB; c.mp4 is larger."]


def test_hashtags_already_in_the_text_are_not_appended_twice():
    content = PostContent(text="Great day #Golf", hashtags=["golf", "juniors"])
    assert x().render_text(content) == "Great day #Golf\n\n#juniors"


# ---------------------------------------------------------------- Instagram


def test_instagram_requires_media():
    violations = instagram().validate(PostContent(text="No picture"))
    assert [(v.field, v.message) for v in violations] == [("media", "Instagram needs at least one image or video.")]


def test_instagram_allows_30_hashtags_and_refuses_31_counting_text_and_list():
    in_text = " ".join(f"#t{i}" for i in range(20))
    ok = PostContent(text=f"Course news {in_text}", hashtags=[f"l{i}" for i in range(10)], media_urls=[IMAGE])
    assert instagram().validate(ok) == []
    too_many = PostContent(text=f"Course news {in_text}", hashtags=[f"l{i}" for i in range(11)], media_urls=[IMAGE])
    violations = instagram().validate(too_many)
    assert [v.message for v in violations] == ["Instagram allows at most 30 hashtags; this post has 31."]


def test_instagram_hashtag_limit_is_a_setting(settings):
    settings.INSTAGRAM_MAX_HASHTAGS = 2
    content = PostContent(text="x", hashtags=["a", "b", "c"], media_urls=[IMAGE])
    assert "at most 2 hashtags" in instagram().validate(content)[0].message


def test_instagram_caption_limit_and_ten_media():
    content = PostContent(text="a" * 2201, media_urls=[IMAGE] * 11)
    messages = [v.message for v in instagram().validate(content)]
    assert "Instagram allows 2,200 characters; this post has 2,201." in messages
    assert "Instagram allows at most 10 images or videos in one post; this post has 11." in messages


def test_instagram_keeps_the_link_as_caption_text():
    content = PostContent(text="Open day", link="https://club.example/open", media_urls=[IMAGE])
    assert instagram().render_text(content) == "Open day\n\nhttps://club.example/open"


# ---------------------------------------------------------------- LinkedIn little text


@pytest.mark.parametrize("char", list("|{}@[]()<>#\\*_~"))
def test_linkedin_escapes_each_reserved_character(char):
    content = PostContent(text=f"a {char} b")
    assert linkedin().commentary(content) == f"a \\{char} b"


def test_linkedin_keeps_hashtags_real_while_escaping_the_rest():
    content = PostContent(text="Members (only) get 10% off_today #golf", hashtags=["Pinewood"])
    commentary = linkedin().commentary(content)
    assert commentary == "Members \\(only\\) get 10% off\\_today #golf\n\n#Pinewood"
    assert unescape_little_text(commentary) == linkedin().render_text(content)
    assert escape_keeping_hashtags("C# and #tag") == "C\\# and #tag"


def test_linkedin_limit_counts_the_escaped_commentary():
    assert linkedin().validate(PostContent(text="a" * 3000)) == []
    violations = linkedin().validate(PostContent(text="a" * 2999 + "_"))
    assert violations[0].message == "LinkedIn allows 3,000 characters; this post has 3,001."


def test_linkedin_link_becomes_the_article_unless_there_are_images():
    link = "https://club.example/open"
    assert linkedin().render_text(PostContent(text="Open day", link=link)) == "Open day"
    assert linkedin().render_text(PostContent(text="Open day", link=link, media_urls=[IMAGE])).endswith(link)


# ---------------------------------------------------------------- Facebook and shared rules


def test_facebook_limit_comes_from_settings(settings):
    settings.POST_MAX_LENGTH = {"FACEBOOK": 10, "INSTAGRAM": 2200, "TWITTER": 280, "LINKEDIN": 3000}
    assert facebook().validate(PostContent(text="a" * 10)) == []
    assert facebook().validate(PostContent(text="a" * 11))[0].message == \
        "Facebook allows 10 characters; this post has 11."


@pytest.mark.parametrize("slug", ["facebook", "instagram", "twitter", "linkedin"])
def test_empty_post_without_media_is_refused_everywhere(slug):
    adapter = adapter_for_slug(slug)
    violations = adapter.validate(PostContent(text="   "))
    assert any(v.field == "text" and adapter.display_name in v.message for v in violations)


def test_all_violations_are_reported_at_once():
    content = PostContent(text="a" * 2300, hashtags=[f"t{i}" for i in range(31)], link="ftp://club.example/x",
                          media_urls=["file:///etc/passwd"] * 11)
    violations = instagram().validate(content)
    assert {v.field for v in violations} == {"text", "hashtags", "link", "media"}
    assert len(violations) == 5
    assert all(v.platform == "INSTAGRAM" and "Instagram" in v.message for v in violations)


def test_link_and_media_must_be_web_addresses():
    violations = facebook().validate(PostContent(text="hi", link="not a url", media_urls=["javascript:alert(1)"]))
    assert [v.field for v in violations] == ["link", "media"]
    assert "http://" in violations[0].message


def test_publish_refuses_invalid_content_before_any_network_call():
    from platforms import Credentials

    with pytest.raises(InvalidContent) as caught:
        x().publish(credentials=Credentials("1", "tok"), content=PostContent(text="a" * 300))
    assert caught.value.violations[0].field == "text"
    assert "280" in caught.value.message

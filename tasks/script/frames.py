"""The offline script's style frames in languages other than English.

Per language and style: an opening (may use ``{source}``), two bridge lines that state no
facts, a closing line and a call to action. Unlike the English frames they do not name the
topic: the item's keywords are in the item's language, which may not be the video's.
French puts a narrow no-break space before ``! ? : ;`` as French typography does. The
Japanese frames are written in kana, because eSpeak NG's Japanese voice reads kana only.
"""

from __future__ import annotations

Frame = dict[str, object]

FRAMES: dict[str, dict[str, Frame]] = {
    "es": {
        "news_anchor": {
            "open": "Buenas noches. Estas son las últimas noticias de {source}.",
            "bridge": ["Esto es lo que sabemos hasta ahora.", "Seguiremos de cerca esta historia."],
            "close": "Eso es lo último sobre esta noticia.",
            "cta": "Síguenos para más novedades sobre esta historia.",
        },
        "casual": {
            "open": "¡Hola a todos! Aquí va algo de {source} que os puede interesar.",
            "bridge": ["Vale, esto es lo esencial.", "Interesante, ¿verdad?"],
            "close": "Y eso es todo por ahora.",
            "cta": "Cuéntanos qué piensas en los comentarios.",
        },
        "educational": {
            "open": "Hoy vamos a ver una noticia publicada por {source}.",
            "bridge": ["Veamos qué se ha informado.", "Esa es la idea clave que hay que recordar."],
            "close": "Y esto es lo que nos cuenta esta noticia.",
            "cta": "Síguenos para seguir aprendiendo.",
        },
        "entertaining": {
            "open": "¡Aquí va una historia que nos ha llamado la atención, directamente de {source}!",
            "bridge": ["Quédate, que ahora viene lo mejor.", "¡Eso sí que es algo!"],
            "close": "¡Vaya historia! Veremos qué pasa después.",
            "cta": "Compártelo con alguien que necesite escucharlo.",
        },
        "professional": {
            "open": "Este es un breve resumen basado en información de {source}.",
            "bridge": ["Los puntos principales son los siguientes.", "Se esperan más detalles."],
            "close": "Con esto concluye el resumen.",
            "cta": "Suscríbete para recibir resúmenes breves de las noticias que importan.",
        },
    },
    "fr": {
        "news_anchor": {
            "open": "Bonsoir. Voici les dernières informations de {source}.",
            "bridge": [
                "Voici ce que nous savons pour l'instant.",
                "Nous continuerons à suivre cette affaire.",
            ],
            "close": "C'était le point sur cette information.",
            "cta": "Abonnez-vous pour suivre l'évolution de cette affaire.",
        },
        "casual": {
            "open": "Salut tout le monde\u202f! Voici une info de {source} qui devrait vous intéresser.",
            "bridge": ["Bon, voilà l'essentiel.", "Plutôt intéressant, non\u202f?"],
            "close": "Voilà, c'est tout pour le moment.",
            "cta": "Dites-nous ce que vous en pensez en commentaire.",
        },
        "educational": {
            "open": "Aujourd'hui, regardons une information publiée par {source}.",
            "bridge": ["Voyons ce qui a été annoncé.", "C'est le point essentiel à retenir."],
            "close": "Et voilà ce que cette information nous apprend.",
            "cta": "Abonnez-vous pour continuer à apprendre avec nous.",
        },
        "entertaining": {
            "open": "Voici une histoire qui nous a frappés, tout droit venue de {source}\u202f!",
            "bridge": [
                "Restez avec nous, le meilleur arrive.",
                "Ça, c'est vraiment quelque chose.",
            ],
            "close": "Quelle histoire\u202f! On verra bien la suite.",
            "cta": "Partagez-la avec quelqu'un qui doit l'entendre.",
        },
        "professional": {
            "open": "Voici un bref résumé fondé sur les informations de {source}.",
            "bridge": [
                "Les points principaux sont les suivants.",
                "D'autres détails sont attendus.",
            ],
            "close": "Ce résumé est terminé.",
            "cta": "Abonnez-vous pour recevoir des résumés concis de l'actualité qui compte.",
        },
    },
    "de": {
        "news_anchor": {
            "open": "Guten Abend. Hier sind die neuesten Nachrichten von {source}.",
            "bridge": ["Das wissen wir bisher.", "Wir bleiben an dieser Geschichte dran."],
            "close": "Das war das Neueste zu dieser Meldung.",
            "cta": "Folgen Sie uns für weitere Neuigkeiten zu dieser Geschichte.",
        },
        "casual": {
            "open": "Hallo zusammen! Hier ist etwas von {source}, das euch interessieren könnte.",
            "bridge": ["Okay, hier das Wichtigste.", "Ziemlich spannend, oder?"],
            "close": "Das war's fürs Erste.",
            "cta": "Schreibt uns in die Kommentare, was ihr davon haltet.",
        },
        "educational": {
            "open": "Heute schauen wir uns eine Meldung von {source} genauer an.",
            "bridge": ["Schauen wir uns an, was berichtet wurde.", "Das ist der wichtigste Punkt."],
            "close": "Und das erzählt uns diese Geschichte.",
            "cta": "Folgt uns, um weiter mit uns zu lernen.",
        },
        "entertaining": {
            "open": "Diese Geschichte ist uns aufgefallen, direkt von {source}!",
            "bridge": ["Bleibt dran, jetzt kommt das Beste.", "Das ist schon etwas Besonderes."],
            "close": "Was für eine Geschichte! Mal sehen, wie es weitergeht.",
            "cta": "Teilt das mit jemandem, der es hören sollte.",
        },
        "professional": {
            "open": "Dies ist eine kurze Zusammenfassung nach Berichten von {source}.",
            "bridge": [
                "Die wichtigsten Punkte sind folgende.",
                "Weitere Einzelheiten werden erwartet.",
            ],
            "close": "Damit endet diese Zusammenfassung.",
            "cta": "Abonnieren Sie uns für kurze Zusammenfassungen der wichtigsten Nachrichten.",
        },
    },
    "ar": {
        "news_anchor": {
            "open": "مساء الخير. إليكم آخر الأخبار من {source}.",
            "bridge": ["هذا ما نعرفه حتى الآن.", "سنواصل متابعة هذا الخبر."],
            "close": "كان هذا آخر ما لدينا عن هذا الخبر.",
            "cta": "تابعونا لمزيد من المستجدات حول هذا الخبر.",
        },
        "casual": {
            "open": "مرحبا بالجميع! إليكم خبرا من {source} قد يهمكم.",
            "bridge": ["حسنا، هذه هي الفكرة باختصار.", "مثير للاهتمام، أليس كذلك؟"],
            "close": "هذا كل شيء الآن.",
            "cta": "أخبرونا برأيكم في التعليقات.",
        },
        "educational": {
            "open": "اليوم نتعرف على خبر نشره {source}.",
            "bridge": ["لنفهم ما الذي تم الإعلان عنه.", "هذه هي النقطة الأهم التي يجب تذكرها."],
            "close": "وهذا ما يخبرنا به هذا الخبر.",
            "cta": "تابعونا لتتعلموا المزيد معنا.",
        },
        "entertaining": {
            "open": "إليكم قصة لفتت انتباهنا، مباشرة من {source}!",
            "bridge": ["ابقوا معنا، فالجزء الأجمل قادم.", "هذا أمر مدهش حقا."],
            "close": "يا لها من قصة! سنرى ما سيحدث لاحقا.",
            "cta": "شاركوا هذا مع من يحتاج أن يسمعه.",
        },
        "professional": {
            "open": "هذا موجز قصير يستند إلى تقارير {source}.",
            "bridge": ["أهم النقاط هي التالية.", "من المتوقع صدور تفاصيل إضافية."],
            "close": "بهذا نختتم هذا الموجز.",
            "cta": "اشتركوا للحصول على موجزات قصيرة لأهم الأخبار.",
        },
    },
    "zh": {
        "news_anchor": {
            "open": "晚上好。以下是来自{source}的最新消息。",
            "bridge": ["以下是我们目前了解到的情况。", "我们将继续关注这一事件。"],
            "close": "以上就是这则新闻的最新进展。",
            "cta": "关注我们，获取后续报道。",
        },
        "casual": {
            "open": "大家好！今天给大家带来一条来自{source}的消息。",
            "bridge": ["好，重点来了。", "挺有意思的吧？"],
            "close": "好啦，今天就说到这里。",
            "cta": "欢迎在评论区留下你的看法。",
        },
        "educational": {
            "open": "今天我们来看一条{source}报道的新闻。",
            "bridge": ["我们来梳理一下报道的内容。", "这是需要记住的重点。"],
            "close": "这就是这则新闻告诉我们的。",
            "cta": "关注我们，一起学习更多知识。",
        },
        "entertaining": {
            "open": "来看一个吸引我们的故事，来自{source}！",
            "bridge": ["别走开，精彩的部分来了。", "这可真不简单。"],
            "close": "真是个精彩的故事！我们拭目以待。",
            "cta": "分享给需要听到它的人吧。",
        },
        "professional": {
            "open": "以下是根据{source}的报道整理的简要汇报。",
            "bridge": ["要点如下。", "更多细节有待公布。"],
            "close": "本次汇报到此结束。",
            "cta": "订阅我们，获取重要新闻的简明汇报。",
        },
    },
    "ja": {
        "news_anchor": {
            "open": "こんばんは。{source}から、さいしんのニュースをおつたえします。",
            "bridge": [
                "いまわかっていることをおつたえします。",
                "このニュースはひきつづきおいかけます。",
            ],
            "close": "このニュースについては、いじょうです。",
            "cta": "つづきをみるには、フォローしてください。",
        },
        "casual": {
            "open": "みなさん、こんにちは！{source}から、きになるニュースです。",
            "bridge": ["ポイントはこちらです。", "おもしろいですよね？"],
            "close": "というわけで、きょうはここまで。",
            "cta": "かんそうをコメントでおしえてください。",
        },
        "educational": {
            "open": "きょうは、{source}がつたえたニュースをみていきましょう。",
            "bridge": [
                "つたえられたないようを、せいりしましょう。",
                "ここがおぼえておきたいポイントです。",
            ],
            "close": "このニュースからわかることは、いじょうです。",
            "cta": "いっしょにまなぶために、フォローしてください。",
        },
        "entertaining": {
            "open": "{source}から、めをひくニュースをおとどけします！",
            "bridge": ["ここからがおもしろいところです。", "これはすごいですね。"],
            "close": "すごいはなしですね！このさきにちゅうもくです。",
            "cta": "ほかのひとにもシェアしてください。",
        },
        "professional": {
            "open": "{source}のほうどうにもとづく、かんたんなまとめです。",
            "bridge": [
                "おもなポイントはつぎのとおりです。",
                "くわしいことは、こんごはっぴょうされるみこみです。",
            ],
            "close": "いじょうで、まとめをおわります。",
            "cta": "じゅうようなニュースのまとめをうけとるには、とうろくしてください。",
        },
    },
}

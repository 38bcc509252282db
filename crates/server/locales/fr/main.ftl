# Entraide — messages de l'interface en français.
# Gardez les trois langues alignées : un test compare les identifiants des messages.

skip-to-content = Aller au contenu
nav-label = Navigation principale
nav-dashboard = Tableau de bord
nav-cases = Affaires
nav-users = Utilisateurs
nav-organisation = Organisation
nav-audit = Journal d'audit
nav-account = Mon compte
language = Langue
language-apply = Changer
sign-out = Se déconnecter
footer-tagline = Entraide — coopération internationale contre la cybercriminalité. Chaque accès au contenu d'une affaire est enregistré.
you = vous
save = Enregistrer
saved = Enregistré.
form-has-errors = Certains champs doivent être corrigés : consultez les messages qui les accompagnent.

sign-in-title = Connexion
sign-in-intro = Utilisez l'adresse électronique et le mot de passe fournis par l'administrateur de votre nœud.
sign-in-submit = Se connecter
signin-notice-expired = Votre session a expiré. Veuillez vous reconnecter.
signin-notice-required = Veuillez vous connecter pour continuer.
signin-notice-signed-out = Vous êtes déconnecté.
second-factor-title = Second facteur
second-factor-intro = Saisissez le code à six chiffres affiché par votre application d'authentification.
second-factor-enrol-intro = Votre organisation exige un second facteur. Ajoutez cette clé à une application d'authentification (en saisissant le secret ou en ouvrant le lien), puis saisissez le code à six chiffres qu'elle affiche.
second-factor-submit = Vérifier
totp-secret = Clé secrète
totp-uri = Lien pour l'application d'authentification

field-email = Adresse électronique
field-password = Mot de passe
field-initial-password = Mot de passe initial
field-totp-code = Code à six chiffres
field-display-name = Nom
field-roles = Rôles
field-second-factor = Second facteur (TOTP)
field-organisation-name = Organisation
field-organisation-kind = Type d'organisation
field-node-id = Identifiant du nœud
field-country = Pays
field-case-reference = Référence de l'affaire
field-case-title = Intitulé
field-case-summary = Résumé des faits
field-status = Statut
field-updated = Dernière modification
field-created = Ouverte le
field-added = Ajouté le
field-access = Votre accès
field-actions = Actions
hint-case-reference = Le numéro national de l'affaire ou du dossier, par exemple PNC-2026-0042 (lettres, chiffres et - / . _).
hint-case-summary = Contenu de l'affaire : seuls les membres de l'affaire peuvent le consulter.
hint-password = Au moins 12 caractères. L'utilisateur devrait le modifier lors de sa première connexion.
hint-require-totp = Les utilisateurs sans second facteur seront invités à en configurer un lors de leur prochaine connexion.

dashboard-welcome = Bienvenue, { $name }
dashboard-organisation = Votre organisation
dashboard-you = Votre compte
dashboard-enable-totp = Configurer un second facteur
dashboard-my-cases = { $count ->
    [0] Vous n'êtes encore membre d'aucune affaire
    [one] Votre affaire
   *[other] Vos { $count } affaires
}
dashboard-all-cases = Toutes les affaires

cases-new = Ouvrir une affaire
cases-create = Ouvrir l'affaire
cases-none = Aucune affaire à afficher.
cases-need-to-know = Vous voyez les affaires dont vous êtes membre. Le contenu des affaires est partagé selon le principe du besoin d'en connaître.
case-status-open = Ouverte
case-status-closed = Clôturée
access-member = Membre
access-manager = Administration uniquement
case-no-summary = Aucun résumé pour le moment.
case-manager-notice = Vous administrez ce nœud mais n'êtes pas membre de cette affaire : son contenu vous est donc masqué. Vous ajouter comme membre vous en donne l'accès ; cette action est enregistrée dans le journal d'audit.
case-add-myself = M'ajouter comme membre
case-members = Membres
case-add-member-label = Adresse électronique de l'utilisateur à ajouter
case-add-member = Ajouter un membre
case-remove-member = Retirer

role-administrator = Administrateur
role-officer = Enquêteur
role-approver = Validateur
role-custodian = Gardien des preuves
role-analyst = Analyste
role-auditor = Auditeur

kind-central-authority = Autorité centrale
kind-point-of-contact-24-7 = Point de contact 24/7
kind-prosecution-service = Ministère public
kind-police-cyber-unit = Unité de police spécialisée en cybercriminalité
kind-court = Juridiction
kind-forensic-laboratory = Laboratoire de criminalistique numérique
kind-service-provider = Fournisseur de services
kind-cert = CERT
kind-international-organisation = Organisation internationale
kind-reporting-hotline = Ligne de signalement

users-new = Ajouter un utilisateur
users-create = Créer l'utilisateur
users-roles-of = Rôles de { $name }
users-save-roles = Enregistrer les rôles
users-disable = Désactiver
users-enable = Activer
status-active = Actif
status-disabled = Désactivé
status-locked = Verrouillé
status-totp = Second facteur
status-enabled = Activé

organisation-security = Sécurité
organisation-require-totp = Exiger un second facteur (TOTP) pour chaque utilisateur

audit-intro = Chaque connexion, utilisation de jeton, modification de droits et consultation ou modification du contenu d'une affaire. Le journal ne peut être ni modifié ni supprimé.
audit-actor = Qui
audit-action = Action
audit-outcome = Résultat
audit-from = Du
audit-to = Au
audit-any = Tous
audit-filter = Filtrer
audit-export = Exporter en CSV
audit-none = Aucune entrée ne correspond.
audit-when = Quand (UTC)
audit-target = Objet
audit-address = Adresse
audit-case-link = affaire
audit-older = Entrées plus anciennes
outcome-success = Réussite
outcome-denied = Refusé
outcome-failure = Échec

account-totp-on = Un code de votre application d'authentification est demandé à la connexion.
account-totp-off = Aucun second facteur n'est configuré. Nous le recommandons pour chaque compte.
account-totp-start = Configurer un second facteur
account-totp-confirm = Confirmer

error-page-title = Une erreur s'est produite
error-page-code = Code d'erreur :
error-page-home = Retour au tableau de bord
error-page-not-found = Cette page n'existe pas.
error-invalid-credentials = Adresse électronique ou mot de passe incorrect.
error-account-locked = Trop de tentatives infructueuses : ce compte est temporairement verrouillé. Réessayez plus tard ou contactez votre administrateur.
error-too-many-attempts = Trop de tentatives depuis votre adresse. Patientez une minute puis réessayez.
error-invalid-second-factor = Code erroné ou déjà utilisé. Vérifiez l'horloge de votre application d'authentification et réessayez.
error-forbidden-role = Vos rôles ne le permettent pas.
error-not-case-member = Seuls les membres de cette affaire peuvent en consulter le contenu.
error-cannot-manage-members = Vous n'êtes pas autorisé à gérer les membres de cette affaire.
error-csrf-rejected = Ce formulaire a expiré ou ne provient pas de ce site. Rechargez la page et réessayez.
error-not-found = Introuvable.
error-payload-too-large = Les données envoyées sont trop volumineuses.
error-internal = Une erreur interne s'est produite. Elle a été journalisée.
error-malformed-form = Le formulaire n'a pas pu être lu.
error-unsupported-language = Choisissez l'anglais, le français ou l'espagnol.
error-email-taken = Un utilisateur avec cette adresse électronique existe déjà.
error-case-reference-taken = Une affaire avec cette référence existe déjà.
error-already-member = Cet utilisateur est déjà membre de l'affaire.
error-unknown-user = Aucun utilisateur actif n'a cette adresse électronique.
error-cannot-disable-self = Vous ne pouvez pas désactiver votre propre compte.
error-cannot-demote-self = Vous ne pouvez pas retirer votre propre rôle d'administrateur.
error-invalid-email = Saisissez une adresse électronique valide.
error-display-name-required = Saisissez un nom.
error-display-name-too-long = Le nom est trop long (120 caractères au maximum).
error-password-too-short = Le mot de passe doit comporter au moins 12 caractères.
error-password-too-long = Le mot de passe est trop long (256 caractères au maximum).
error-invalid-role = Rôle inconnu.
error-roles-required = Choisissez au moins un rôle.
error-case-reference-required = Saisissez la référence de l'affaire.
error-invalid-case-reference = La référence ne peut comporter que 64 lettres, chiffres et - / . _ au maximum.
error-case-title-required = Saisissez un intitulé.
error-case-title-too-long = L'intitulé est trop long (200 caractères au maximum).
error-case-summary-too-long = Le résumé est trop long (10 000 caractères au maximum).
error-control-characters = Supprimez les caractères de contrôle invisibles de ce champ.
error-invalid-time = Saisissez une date telle que 2026-11-25.
error-totp-already-enabled = Un second facteur est déjà configuré.
error-totp-not-started = Commencez d'abord la configuration du second facteur.
